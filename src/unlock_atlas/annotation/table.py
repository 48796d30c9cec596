"""Fill the annotation columns of an atlas ``variants`` part (workflow step after calling).

The caller writes the long ``variants`` part with the annotation columns null (they are
``filled_by="annotate"`` in :mod:`unlock_atlas.contract.schema_variants`); this module annotates
each distinct allele once with the same :class:`~.annotator.Annotator` that writes the VCF's
``CSQ`` and fills ``gene``, ``transcript``, ``refseq_transcript``, ``hgvsc``, ``hgvsp``,
``hgvsp_short`` and ``consequence``.

One transcript per allele: the panel is annotated on MANE Select only, so an allele has one
annotation per overlapping MANE transcript (two only where genes overlap or lie within the 5 kb
up/downstream flank). The row keeps the most severe (VEP severity order of the first SO term);
ties go to the transcript whose coding sequence the allele touches, then to the gene symbol in
alphabetical order — deterministic, and the same rule VEP's ``--pick`` applies first (severity
is its "rank" criterion after MANE status, which all our transcripts share).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..contract.parts import write_part
from ..domain import allele_id
from ..errors import InputError, Problem
from .annotator import Annotator
from .consequence import SEVERITY, Csq

logger = logging.getLogger(__name__)

#: columns this step fills (all declared ``filled_by="annotate"`` in the variants schema)
FILLED = ["gene", "transcript", "refseq_transcript", "hgvsc", "hgvsp", "hgvsp_short", "consequence"]

_RANK = {term: i for i, term in enumerate(SEVERITY)}


def _rank(c: Csq) -> tuple[int, int, str]:
    first = c.consequence.split("&")[0] if c.consequence else ""
    coding = 0 if c.protein_position else 1
    return _RANK.get(first, len(_RANK)), coding, c.symbol


def pick(csqs: list[Csq]) -> Csq | None:
    """The one annotation kept for an allele (see module docstring); None when none is usable."""
    usable = [c for c in csqs if c.consequence and c.consequence != "intergenic_variant"]
    return min(usable, key=_rank) if usable else None


def annotate_variants_table(table_in: str | Path, table_out: str | Path, annotator: Annotator) -> int:
    """Annotate every allele of a ``variants`` part and write the filled part atomically.

    Parameters
    ----------
    table_in, table_out
        Input part (as written by ``unlock-atlas call --table``) and output part.
    annotator
        The annotator built from the run's reference FASTA and MANE GTF.

    Returns
    -------
    int
        Number of distinct alleles annotated.
    """
    table_in = Path(table_in)
    try:
        df = pd.read_parquet(table_in)
    except Exception as exc:  # noqa: BLE001 - any pyarrow failure is a bad input file here
        raise InputError(Problem(str(table_in), f"cannot read the variants part: {exc}",
                                 "rerun the calling step that writes it")) from None
    missing = [c for c in ("chrom", "pos", "ref", "alt") if c not in df.columns]
    if missing:
        raise InputError(Problem(str(table_in), f"not a variants part: missing column(s) {', '.join(missing)}",
                                 "give the part written by `unlock-atlas call --table`"))
    refseq = {m.tx.transcript_id: (m.tx.refseq or None) for m in annotator.models}
    alleles = df[["chrom", "pos", "ref", "alt"]].drop_duplicates()
    filled: dict[tuple[str, int, str, str], dict[str, str | None]] = {}
    for chrom, pos, ref, alt in alleles.itertuples(index=False):
        c = pick(annotator.annotate(str(chrom), int(pos), str(ref), str(alt)))
        key = (str(chrom), int(pos), str(ref), str(alt))
        if c is None:
            filled[key] = dict.fromkeys(FILLED)
            continue
        filled[key] = {
            "gene": c.symbol or None, "transcript": c.feature or None, "refseq_transcript": refseq.get(c.feature),
            "hgvsc": c.hgvsc or None, "hgvsp": c.hgvsp or None, "hgvsp_short": c.hgvsp_short or None,
            "consequence": c.consequence or None,
        }
    keys = list(zip(df["chrom"].astype(str), df["pos"].astype(int), df["ref"].astype(str), df["alt"].astype(str)))
    for col in FILLED:
        df[col] = pd.array([filled[k][col] for k in keys], dtype="string")
    if "allele_id" not in df.columns or df["allele_id"].isna().any():   # a part from elsewhere (imported calls)
        df["allele_id"] = allele_id(df)
    write_part(df, "variants", table_out)
    logger.info("%s: annotated %d alleles over %d rows", table_out, len(filled), len(df))
    return len(filled)
