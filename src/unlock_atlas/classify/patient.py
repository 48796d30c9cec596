"""One patient's inputs to classification, read from the files the earlier stages wrote.

The classifier never re-reads BAMs for calls: it works from the variants part
(``results/tables/variants/<patient>.parquet``), the copy-number parts
(``results/tables/copy_number/<sample>.parquet``), the fusion TSVs
(``results/copynumber/<patient>/fusions/<sample>.fusions.tsv``) and the validated sheets
(:func:`unlock_atlas.inputs.load_run`); BAMs are only opened to phase compound mutations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..calling import TI_ALPHA
from ..ctdna_fraction import patient_samples, tumour_samples
from ..errors import InputError, Problem
from ..knowledge.drugs import Regimen, resolve_regimen
from ..tables import concat_parts, read_table
from ..tables import missing_to_none as _na

if TYPE_CHECKING:
    from ..inputs import Line

#: Columns of the variants part the classifier needs (schema_variants.py).
VARIANT_COLUMNS = ["sample_id", "chrom", "pos", "ref", "alt", "kind", "gene", "transcript", "hgvsc", "hgvsp",
                   "hgvsp_short", "consequence", "alt_reads", "depth", "vaf", "vaf_ci_low", "vaf_ci_high", "status",
                   "filter", "origin", "background_error", "background_rho", "ti_p_value", "ti_status"]
#: Columns of the fusion TSVs (copynumber/fusions.py FUSION_COLUMNS) the classifier needs.
FUSION_COLUMNS = ["chrom_a", "pos_a", "gene_a", "chrom_b", "pos_b", "gene_b", "fragments"]


@dataclass
class PatientData:
    """Everything the classifier knows about one patient (raw IDs).

    Attributes
    ----------
    samples
        The patient's rows of samples.tsv (``sample_id, sample_type, timepoint, collection_day,
        purity, histology`` and, from a run, ``line``), normals included.
    variants
        The variants part (long: variant x sample).
    copy_number
        The copy-number parts of the patient's samples, concatenated (may be empty).
    fusions
        Fusion events, one row per sample x event, with a ``sample_id`` column (may be empty).
    fusion_samples
        Samples whose fusion table was read (a sample without one says nothing about fusions).
    bams
        Sample ID -> BAM path, for phasing (may be empty: phase is then ``unknown``).
    lines
        The patient's treatment lines (:class:`unlock_atlas.inputs.Line`, sorted); empty = one
        line, ``regimen`` from day 0 (:mod:`.lines`).
    line, line_start_day
        Which line this object describes and its first day: the whole patient is line 1 from day 0;
        :func:`.lines.line_views` gives one object per line, with that line's regimen, progression,
        best response and samples.
    """

    patient_id: str
    tumour_type: str
    regimen: Regimen
    progression_day: int | None
    best_response: str | None
    samples: pd.DataFrame
    variants: pd.DataFrame
    copy_number: pd.DataFrame = field(default_factory=pd.DataFrame)
    fusions: pd.DataFrame = field(default_factory=pd.DataFrame)
    bams: dict[str, str] = field(default_factory=dict)
    fusion_samples: set[str] = field(default_factory=set)
    #: the ``sc_programs`` parts of the patient's biopsies with scRNA (may be empty)
    sc_programs: pd.DataFrame = field(default_factory=pd.DataFrame)
    lines: list[Line] = field(default_factory=list)
    line: int = 1
    line_start_day: int = 0
    #: alpha of the tumour-informed tests (config ``calling.ti_alpha``; docs/calling.md §3b)
    ti_alpha: float = TI_ALPHA

    @property
    def days_to_progression(self) -> int | None:
        """Days from the line's start to progression on it (what resistance timing is judged on)."""
        return None if self.progression_day is None else self.progression_day - self.line_start_day

    def sample(self, sample_id: str) -> dict:
        """The samples.tsv row of ``sample_id`` as a dict."""
        return self.samples.set_index("sample_id").loc[sample_id].to_dict()

    @property
    def tumour_samples(self) -> pd.DataFrame:
        """Tissue and plasma samples, ordered by collection day."""
        return tumour_samples(self.samples)


def read_variants(path: str | Path) -> pd.DataFrame:
    """Read a variants part; a missing/unreadable part or column is an :class:`InputError`."""
    return read_table(path, "variants part", "rerun `unlock-atlas call` for this patient", columns=VARIANT_COLUMNS,
                      fix_columns="rebuild it with the current `unlock-atlas call`")


def read_copy_number(paths: list[str | Path]) -> pd.DataFrame:
    """Concatenate copy-number parts (an empty list gives an empty frame)."""
    return concat_parts(paths, "copy-number part", "rerun `unlock-atlas copynumber call` for this sample")


def read_fusions(paths: dict[str, str | Path]) -> pd.DataFrame:
    """Fusion TSVs keyed by sample ID -> one frame with a ``sample_id`` column."""
    frames = []
    for sid, p in paths.items():
        try:
            df = pd.read_csv(p, sep="\t", dtype={"gene_a": "string", "gene_b": "string"}, keep_default_na=False)
        except (OSError, ValueError) as exc:
            raise InputError(Problem(str(p), f"cannot read the fusion table ({exc})",
                                     "rerun `unlock-atlas copynumber fusions` for this sample")) from None
        missing = [c for c in FUSION_COLUMNS if c not in df.columns]
        if missing:
            raise InputError(Problem(str(p), f"columns missing: {', '.join(missing)}",
                                     "rebuild it with the current `unlock-atlas copynumber fusions`"))
        if len(df):
            frames.append(df.assign(sample_id=sid))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FUSION_COLUMNS + ["sample_id"])


def patient_from_run(run: object, patient_id: str, variants: pd.DataFrame, copy_number: pd.DataFrame | None = None,
                     fusions: pd.DataFrame | None = None, bams: dict[str, str] | None = None,
                     fusion_samples: set[str] | None = None,
                     sc_programs: pd.DataFrame | None = None) -> PatientData:
    """Build :class:`PatientData` from a validated run (:func:`unlock_atlas.inputs.load_run`)."""
    pts = run.patients[run.patients["patient_id"].astype(str) == patient_id]
    if pts.empty:
        raise InputError(Problem("patients.tsv", f"patient {patient_id} is not in the sheet",
                                 "pass a patient ID of patients.tsv"))
    p = pts.iloc[0]
    samples = patient_samples(run, patient_id)
    if "line" in run.samples.columns:
        line_of = dict(zip(run.samples["sample_id"].astype(str), run.samples["line"]))
        samples["line"] = [None if _na(line_of.get(s)) is None else int(line_of[s]) for s in samples["sample_id"]]
    lines = run.lines_of(patient_id) if hasattr(run, "lines_of") else []
    prog = _na(p["progression_day"])
    return PatientData(
        patient_id=patient_id, tumour_type=str(p["tumour_type"]), regimen=resolve_regimen(str(p["drug"])),
        progression_day=None if prog is None else int(prog), best_response=_na(p["best_response"]),
        samples=samples, variants=variants,
        copy_number=copy_number if copy_number is not None else pd.DataFrame(),
        fusions=fusions if fusions is not None else pd.DataFrame(), bams=dict(bams or {}),
        fusion_samples=set(fusion_samples or ()),
        sc_programs=sc_programs if sc_programs is not None else pd.DataFrame(), lines=lines,
        ti_alpha=float((getattr(run, "config", None) or {}).get("calling", {}).get("ti_alpha", TI_ALPHA)))
