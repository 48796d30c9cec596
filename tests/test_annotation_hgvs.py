"""HGVS c./p. of published indel, duplication, insertion, delins and inversion examples.

Truth: ``tests/data/hgvs_published_examples.tsv``. Every row names its source (VariantValidator's
own test expectations, the HGVS nomenclature pages, ClinVar records/submissions, COSMIC, a
paper). The GRCh38 VCF-style input is the source's own VCF where it gives one, otherwise it was
mapped from the published ``c.`` position onto the MANE exons by
``tests/data/derive_hgvs_examples.py`` (its own mapper, not the annotator) and checked against
the bases the source names. Nothing in the table was produced by ``unlock_atlas.annotation``.

Published protein strings are compared after the two spelling equivalences HGVS itself allows:
predicted consequences in parentheses ``p.(Val218del)`` (the atlas/VEP ``HGVSp`` convention
writes ``p.Val218del``) and ``*`` for ``Ter`` (``fs*13`` = ``fsTer13``). Where the module
deliberately differs from a source, the row says why in ``deviation`` and gives
``hgvsp_expected``; the test checks that the difference is real.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pysam
import pytest

from unlock_atlas.annotation import Annotator
from unlock_atlas.reference.genome import RegionLift

TSV = Path(__file__).parent / "data" / "hgvs_published_examples.tsv"
#: documented reasons a row's expected p. differs from its source (docs/annotation.md, "HGVS p.")
DEVIATIONS = {
    "hgvs_delins_rule": "HGVS protein delins example p.(Pro578_Lys579delinsLeuTer): list every replaced residue",
    "utr_no_p": "no protein description for a change outside the CDS (VEP/atlas convention)",
    "splice_p_unknown": "source gives no p.; canonical splice site hit -> p.? (VariantValidator convention)",
}


def _rows() -> list[dict[str, str]]:
    with open(TSV) as fh:
        return list(csv.DictReader((ln for ln in fh if not ln.startswith("#")), delimiter="\t"))


ROWS = _rows()


def normalise_p(text: str) -> str:
    """``p.(Gln136ProfsTer13)`` -> ``p.Gln136ProfsTer13``; ``fs*13`` -> ``fsTer13`` (HGVS equivalents)."""
    if text.startswith("p.(") and text.endswith(")"):
        text = "p." + text[3:-1]
    return re.sub(r"fs\*(\d+|\?)", r"fsTer\1", text)


@pytest.fixture(scope="module")
def ann(region_fasta, mane_gtf) -> Annotator:
    return Annotator(region_fasta, mane_gtf)


@pytest.fixture(scope="module")
def genome(region_fasta):
    lift = RegionLift.from_fasta(region_fasta)
    fa = pysam.FastaFile(str(region_fasta))

    def get(chrom: str, start: int, end: int) -> str:
        contig, local = lift.to_local(chrom, start)
        return fa.fetch(contig, local - 1, local - 1 + end - start + 1).upper()
    return get


def test_table_covers_the_required_examples():
    """>= 30 indel/dup/ins/delins/inv rows, all with a named source; ids unique; deviations documented."""
    assert len({r["id"] for r in ROWS}) == len(ROWS)
    indels = [r for r in ROWS if ">" not in r["hgvsc"]]
    assert len(indels) >= 30
    kinds = {k for r in indels for k in ("inv", "delins", "dup", "ins", "del") if k in r["hgvsc"]}
    assert kinds == {"inv", "delins", "dup", "ins", "del"}
    assert all(len(r["source"]) > 20 for r in ROWS)
    for r in ROWS:
        assert (r["deviation"] in DEVIATIONS) if r["deviation"] else not r["hgvsp_expected"], r["id"]
    # both strands and the splice cases are represented
    assert {"TP53", "BRCA1", "BRAF", "EGFR", "APC", "NF1"} <= {r["gene"] for r in indels}
    assert sum(r["hgvsp_published"] == "p.?" or r["hgvsp_expected"] == "p.?" for r in ROWS) >= 8


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_ref_matches_grch38(genome, row):
    pos, ref = int(row["pos"]), row["ref"]
    assert genome(row["chrom"], pos, pos + len(ref) - 1) == ref


def _expected_p(row: dict[str, str]) -> str | None:
    if row["deviation"]:
        return row["hgvsp_expected"]
    return None if row["hgvsp_published"] == "." else normalise_p(row["hgvsp_published"])


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_published_hgvs(ann, row):
    hits = [c for c in ann.annotate(row["chrom"], int(row["pos"]), row["ref"], row["alt"]) if c.symbol == row["gene"]]
    assert len(hits) == 1
    c = hits[0]
    assert c.hgvsc == row["hgvsc"]
    want = _expected_p(row)
    if want is not None:
        got = c.hgvsp if row["p_form"] == "long" else c.hgvsp_short
        assert got == want
    if row["deviation"] and row["hgvsp_published"] != ".":
        assert normalise_p(row["hgvsp_published"]) != want   # the documented difference is real


def _right_shift(genome, chrom: str, pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """The right-most (genomic 3') VCF representation of an anchored indel, read from the FASTA."""
    seq = ref[1:] or alt[1:]
    start = pos + 1                       # first deleted base / base after the insertion point
    if len(ref) > len(alt):
        while genome(chrom, start + len(seq), start + len(seq)) == seq[0]:
            seq, start = seq[1:] + seq[0], start + 1
    else:
        while genome(chrom, start, start) == seq[0]:
            seq, start = seq[1:] + seq[0], start + 1
    anchor = genome(chrom, start - 1, start - 1)
    return (start - 1, anchor + seq, anchor) if len(ref) > len(alt) else (start - 1, anchor, anchor + seq)


SHIFTABLE = [r for r in ROWS if len(r["ref"]) != len(r["alt"]) and r["ref"][0] == r["alt"][0]
             and min(len(r["ref"]), len(r["alt"])) == 1]


@pytest.mark.parametrize("row", SHIFTABLE, ids=[r["id"] for r in SHIFTABLE])
def test_representation_does_not_matter(ann, genome, row):
    """The 3' rule is applied per transcript strand: the left-most (bcftools norm) and the right-most
    VCF spelling of the same indel give the same c. and p. on both strands."""
    pos, ref, alt = _right_shift(genome, row["chrom"], int(row["pos"]), row["ref"], row["alt"])
    left = [c for c in ann.annotate(row["chrom"], int(row["pos"]), row["ref"], row["alt"]) if c.symbol == row["gene"]]
    right = [c for c in ann.annotate(row["chrom"], pos, ref, alt) if c.symbol == row["gene"]]
    assert [(c.hgvsc, c.hgvsp, c.consequence) for c in right] == [(c.hgvsc, c.hgvsp, c.consequence) for c in left]


def test_minus_strand_shift_goes_to_lower_coordinates(ann, genome):
    """TP53 (minus strand) c.652_654del: VariantValidator's g. description is the genomic 3'-most
    g.7674883_7674885del, yet c.652_654 lies at the LOWER end of the CA repeat (transcript 3')."""
    row = next(r for r in ROWS if r["id"] == "vv_tp53_652_654del")
    pos, ref, alt = _right_shift(genome, row["chrom"], int(row["pos"]), row["ref"], row["alt"])
    assert (pos + 1, pos + len(ref) - 1) == (7674883, 7674885)      # the published g. position
    c = next(c for c in ann.annotate("chr17", pos, ref, alt) if c.symbol == "TP53")
    assert (c.hgvsc, c.hgvsp) == ("c.652_654del", "p.Val218del")
