"""cBioPortal study folder from the atlas (cBioPortal "File Formats" documentation).

Files (https://docs.cbioportal.org/file-formats/), written into a temporary folder and swapped
in whole (atomic); checked with cBioPortal's own ``validateData.py``
(``benchmarks/export/cbioportal_validate.py``, docs/export.md):

* ``meta_study.txt``: study id, name, description, ``type_of_cancer`` (``mixed`` unless given),
  ``reference_genome: hg38``, ``add_global_case_list: true`` (the portal makes the ``_all`` list).
* ``data_clinical_patient.txt`` + meta: one row per patient; the 4 ``#`` header rows (display
  name, description, datatype STRING/NUMBER/BOOLEAN, priority) then the attribute names. Survival
  pairs: ``PFS_MONTHS``/``PFS_STATUS`` from the progression day (censored at the last tumour
  sample); ``OS_*`` and ``DFS_*`` are ``NA`` (the atlas holds no death or disease-free data;
  written so the portal records them as not available rather than missing).
* ``data_clinical_sample.txt`` + meta: one row per tumour sample (tissue, plasma); normals are not
  cBioPortal samples — they appear as ``Matched_Norm_Sample_Barcode``.
* ``data_mutations.txt`` + meta (``MUTATION_EXTENDED``/``MAF``, ``stable_id: mutations``,
  ``swissprot_identifier: accession``): the MAF of :mod:`.maf` (called somatic variants),
  ``Chromosome`` without ``chr`` as the cBioPortal examples write it.
* ``data_cna.txt`` + meta (``COPY_NUMBER_ALTERATION``/``DISCRETE``, ``stable_id: gistic``):
  ``Hugo_Symbol``, ``Entrez_Gene_Id`` × tumour sample, GISTIC-style levels from
  ``copy_number.call``: deep_deletion −2, loss −1, neutral 0, gain 1, amplification 2; ``NA``
  where the gene has no call.
* ``data_timeline_specimen.txt``, ``data_timeline_treatment.txt``, ``data_timeline_status.txt``
  + metas: specimen collection days, the drug from day 0 to progression (or the last sample),
  progression; day 0 is the treatment start (the atlas' time origin).
* ``case_lists/cases_sequenced.txt``, ``cases_cna.txt``, ``cases_cnaseq.txt``: the case lists
  cBioPortal requires for mutation and discrete CNA data (suffixes ``_sequenced``, ``_cna``,
  ``_cnaseq``).

IDs must match ``[A-Za-z0-9._-]+`` (cBioPortal's rule for PATIENT_ID / SAMPLE_ID); the atlas'
pseudonyms (12 hex characters) always do, raw IDs that do not are reported together as an
:class:`~unlock_atlas.errors.InputError`. ``MUTATION_COUNT`` and ``FRACTION_GENOME_ALTERED``
are not written (cBioPortal computes them; they are banned in clinical files).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..atomic import atomic_dir
from ..errors import InputError, Problem
from .genes import entrez_id
from .maf import build_maf

#: copy_number.call -> cBioPortal discrete CNA level (GISTIC 2.0 convention, cBioPortal docs).
CNA_LEVELS = {"deep_deletion": -2, "loss": -1, "neutral": 0, "gain": 1, "amplification": 2}
_ID = re.compile(r"^[A-Za-z0-9._-]+$")

#: (atlas column, ATTRIBUTE_NAME, display name, description, datatype, priority)
PATIENT_ATTRS = [
    ("patient_id", "PATIENT_ID", "Patient Identifier", "Patient identifier (pseudonym)", "STRING", 1),
    ("tumour_type", "TUMOUR_TYPE", "Tumour Type", "Tumour type as given in patients.tsv", "STRING", 1),
    ("drug", "DRUG", "Drug", "Drug(s) the patient was treated with; combinations joined by '+'", "STRING", 1),
    ("drug_class", "DRUG_CLASS", "Drug Class", "Drug class(es) from the knowledge base", "STRING", 1),
    ("targets", "DRUG_TARGETS", "Drug Targets", "Target gene(s) of the drug(s)", "STRING", 1),
    ("progression_day", "PROGRESSION_DAY", "Progression Day",
     "Day of radiological progression from treatment start (empty: not progressed)", "NUMBER", 1),
    ("best_response", "BEST_RESPONSE", "Best Response", "Best RECIST 1.1 response on the drug", "STRING", 1),
    ("resistance_type", "RESISTANCE_TYPE", "Resistance Type",
     "primary / acquired / not_progressed / unknown (see the atlas manifest)", "STRING", 1),
    ("early_trial_after", "EARLY_TRIAL_AFTER", "Early Trial After Progression",
     "Treated in an early-phase trial after progression", "BOOLEAN", 1),
    ("has_normal", "HAS_NORMAL", "Matched Normal", "A matched white-cell normal was sequenced", "BOOLEAN", 1),
    ("pfs_status", "PFS_STATUS", "Progression Free Status",
     "1:PROGRESSION on the drug, or 0:CENSORED at the last tumour sample", "STRING", 1),
    ("pfs_months", "PFS_MONTHS", "Progress Free Survival (Months)",
     "Months (days / 30.4375) from treatment start to progression or censoring", "NUMBER", 1),
    ("", "OS_STATUS", "Overall Survival Status", "Not held by the atlas (NA)", "STRING", 1),
    ("", "OS_MONTHS", "Overall Survival (Months)", "Not held by the atlas (NA)", "NUMBER", 1),
    ("", "DFS_STATUS", "Disease Free Status", "Not held by the atlas (NA)", "STRING", 1),
    ("", "DFS_MONTHS", "Disease Free (Months)", "Not held by the atlas (NA)", "NUMBER", 1),
]
#: days per month for *_MONTHS (365.25 / 12, the Julian-year month survival analyses use)
DAYS_PER_MONTH = 30.4375
SAMPLE_ATTRS = [
    ("patient_id", "PATIENT_ID", "Patient Identifier", "Patient identifier (pseudonym)", "STRING", 1),
    ("sample_id", "SAMPLE_ID", "Sample Identifier", "Sample identifier (pseudonym)", "STRING", 1),
    ("tumour_type", "CANCER_TYPE", "Cancer Type", "Tumour type of the patient", "STRING", 1),
    ("histology", "HISTOLOGY", "Histology", "Histology from samples.tsv", "STRING", 1),
    ("sample_type", "SAMPLE_CLASS", "Sample Class", "tissue biopsy or plasma cfDNA", "STRING", 1),
    ("timepoint", "TIMEPOINT", "Timepoint", "baseline / on_treatment / progression", "STRING", 1),
    ("collection_day", "COLLECTION_DAY", "Collection Day", "Day of collection from treatment start", "NUMBER", 1),
    ("mean_depth", "MEAN_DEPTH", "Mean Depth", "Mean depth over panel bases (reads)", "NUMBER", 1),
    ("qc_status", "QC_STATUS", "QC Status", "pass / warn / fail", "STRING", 1),
    ("tumour_fraction", "TUMOUR_FRACTION", "Tumour Fraction", "Estimated tumour fraction", "NUMBER", 1),
    ("purity", "PURITY", "Purity", "Pathologist's tumour content estimate", "NUMBER", 1),
]


def _value(v, datatype: str) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "NA"
    if datatype == "BOOLEAN":
        return "TRUE" if bool(v) else "FALSE"
    if datatype == "NUMBER":
        f = float(v)
        return str(int(f)) if f.is_integer() else f"{f:.6g}"
    return str(v).replace("\t", " ")


def clinical_text(df: pd.DataFrame, attrs: list[tuple]) -> str:
    """A clinical data file: 4 ``#`` metadata rows, the attribute-name row, one row per record."""
    lines = ["#" + "\t".join(a[2] for a in attrs), "#" + "\t".join(a[3] for a in attrs),
             "#" + "\t".join(a[4] for a in attrs), "#" + "\t".join(str(a[5]) for a in attrs),
             "\t".join(a[1] for a in attrs)]
    for rec in df.to_dict("records"):
        lines.append("\t".join(_value(rec.get(a[0]) if a[0] else None, a[4]) for a in attrs))
    return "\n".join(lines) + "\n"


def _meta(**fields: str) -> str:
    return "".join(f"{k}: {v}\n" for k, v in fields.items())


def _check_ids(patients: pd.DataFrame, samples: pd.DataFrame, atlas_dir: Path) -> None:
    problems = [Problem(str(atlas_dir / f"{table}.parquet"), f"{col} {v!r} has characters cBioPortal does not allow "
                        "(only letters, digits, '.', '_' and '-')",
                        "turn privacy.pseudonymise on, or rename the patient/sample in the sheets", column=col)
                for table, df, col in (("patients", patients, "patient_id"), ("samples", samples, "sample_id"))
                for v in df[col].astype(str) if not _ID.match(v)]
    if problems:
        raise InputError(problems, header="IDs not valid for cBioPortal")


def with_pfs(patients: pd.DataFrame, tumour: pd.DataFrame) -> pd.DataFrame:
    """``patients`` plus ``pfs_status``/``pfs_months``: progression at ``progression_day``, else
    censored at the patient's last tumour sample (day 0 if none), in months of :data:`DAYS_PER_MONTH`."""
    last = tumour.groupby("patient_id")["collection_day"].max()
    prog = patients["progression_day"]
    end = prog.astype("Float64").fillna(patients["patient_id"].map(last).astype("Float64").clip(lower=0).fillna(0))
    return patients.assign(pfs_status=prog.notna().map({True: "1:PROGRESSION", False: "0:CENSORED"}),
                           pfs_months=(end / DAYS_PER_MONTH).round(2))


def cna_matrix(copy_number: pd.DataFrame, sample_ids: list[str]) -> pd.DataFrame:
    """``Hugo_Symbol``, ``Entrez_Gene_Id`` × sample matrix of discrete levels (text; ``NA`` = no call)."""
    cn = copy_number[copy_number["sample_id"].isin(sample_ids)]
    level = cn["call"].map(CNA_LEVELS)
    wide = cn.assign(level=level).pivot_table(index="gene", columns="sample_id", values="level", aggfunc="first")
    cols = [s for s in sample_ids if s in wide.columns]
    wide = wide.reindex(columns=cols).sort_index()
    out = wide.apply(lambda col: col.map(lambda v: "NA" if pd.isna(v) else str(int(v))))
    out.index.name = "Hugo_Symbol"
    out.insert(0, "Entrez_Gene_Id", [entrez_id(g) for g in out.index])
    return out.reset_index()


def write_study(atlas, out_dir: str | Path, study_id: str = "unlock_atlas", name: str | None = None,
                cancer_type: str = "mixed", description: str | None = None) -> dict[str, int]:
    """Write the cBioPortal study folder ``out_dir`` from an :class:`~unlock_atlas.atlas.load.Atlas`.

    Returns
    -------
    dict
        Counts written: patients, samples, mutations, cna_genes.
    """
    if not _ID.match(study_id):
        raise InputError(Problem("--study-id", f"{study_id!r} is not a valid cancer_study_identifier",
                                 "use letters, digits, '.', '_' and '-' only"))
    patients, samples = atlas.table("patients"), atlas.table("samples")
    _check_ids(patients, samples, atlas.path)
    tumour = samples[samples["sample_type"].astype(str) != "normal"].merge(
        patients[["patient_id", "tumour_type"]], on="patient_id", how="left")
    tumour = tumour.sort_values(["patient_id", "collection_day", "sample_id"], kind="stable")
    sample_ids = tumour["sample_id"].astype(str).tolist()
    variants = atlas.table("variants") if "variants" in atlas.tables else None
    copy_number = atlas.table("copy_number") if "copy_number" in atlas.tables else None
    name = name or f"Unlock resistance atlas ({study_id})"
    description = description or (f"Targeted sequencing of {len(sample_ids)} tissue and plasma samples from "
                                  f"{len(patients)} patients before and on targeted therapy (unlock-atlas export).")
    patients = with_pfs(patients, tumour)
    counts = {"patients": len(patients), "samples": len(sample_ids), "mutations": 0, "cna_genes": 0}
    sid = study_id
    with atomic_dir(out_dir) as tmp:
        tmp = Path(tmp)
        (tmp / "case_lists").mkdir()
        (tmp / "meta_study.txt").write_text(_meta(
            type_of_cancer=cancer_type, cancer_study_identifier=sid, name=name, description=description,
            reference_genome="hg38", add_global_case_list="true"))
        for kind, df, attrs in (("patient", patients, PATIENT_ATTRS), ("sample", tumour, SAMPLE_ATTRS)):
            (tmp / f"data_clinical_{kind}.txt").write_text(clinical_text(df, attrs))
            (tmp / f"meta_clinical_{kind}.txt").write_text(_meta(
                cancer_study_identifier=sid, genetic_alteration_type="CLINICAL",
                datatype=f"{kind.upper()}_ATTRIBUTES", data_filename=f"data_clinical_{kind}.txt"))
        sequenced: list[str] = []
        if variants is not None:
            maf = build_maf(variants, samples)
            maf["Chromosome"] = maf["Chromosome"].str.removeprefix("chr")
            maf.to_csv(tmp / "data_mutations.txt", sep="\t", index=False, lineterminator="\n")
            counts["mutations"] = len(maf)
            (tmp / "meta_mutations.txt").write_text(_meta(
                cancer_study_identifier=sid, genetic_alteration_type="MUTATION_EXTENDED", datatype="MAF",
                stable_id="mutations", show_profile_in_analysis_tab="true", profile_name="Mutations",
                swissprot_identifier="accession",
                profile_description="Called somatic mutations (targeted panel; unlock-atlas calling, MANE Select "
                                    "annotation)", data_filename="data_mutations.txt"))
            genotyped = set(variants["sample_id"].astype(str))
            sequenced = [s for s in sample_ids if s in genotyped]
        cna_samples: list[str] = []
        if copy_number is not None and len(copy_number):
            mat = cna_matrix(copy_number, sample_ids)
            cna_samples = [c for c in mat.columns if c not in ("Hugo_Symbol", "Entrez_Gene_Id")]
            mat.to_csv(tmp / "data_cna.txt", sep="\t", index=False, lineterminator="\n")
            counts["cna_genes"] = len(mat)
            (tmp / "meta_cna.txt").write_text(_meta(
                cancer_study_identifier=sid, genetic_alteration_type="COPY_NUMBER_ALTERATION", datatype="DISCRETE",
                stable_id="gistic", show_profile_in_analysis_tab="true",
                profile_name="Putative copy-number alterations (unlock-atlas)",
                profile_description="Gene copy-number calls from targeted sequencing. Values: -2 = deep deletion; "
                                    "-1 = loss; 0 = neutral; 1 = gain; 2 = amplification.",
                data_filename="data_cna.txt"))
        _timelines(tmp, sid, patients, tumour)
        for suffix, ids, label, category in (
                ("sequenced", sequenced, "Samples with mutation data", "all_cases_with_mutation_data"),
                ("cna", cna_samples, "Samples with CNA data", "all_cases_with_cna_data"),
                ("cnaseq", [s for s in sequenced if s in set(cna_samples)], "Samples with mutation and CNA data",
                 "all_cases_with_mutation_and_cna_data")):
            if not ids:
                continue
            (tmp / "case_lists" / f"cases_{suffix}.txt").write_text(_meta(
                cancer_study_identifier=sid, stable_id=f"{sid}_{suffix}", case_list_name=label,
                case_list_description=f"{label} ({len(ids)} samples)", case_list_category=category,
                case_list_ids="\t".join(ids)))
    return counts


def _timelines(tmp: Path, sid: str, patients: pd.DataFrame, tumour: pd.DataFrame) -> None:
    """SPECIMEN, TREATMENT and STATUS timeline files (day 0 = treatment start)."""
    spec = ["PATIENT_ID\tSTART_DATE\tSTOP_DATE\tEVENT_TYPE\tSAMPLE_ID\tSPECIMEN_TYPE\tTIMEPOINT"]
    last_day: dict[str, int] = {}
    for r in tumour.itertuples():
        day = int(r.collection_day)
        last_day[r.patient_id] = max(last_day.get(r.patient_id, day), day)
        kind = "tissue" if r.sample_type == "tissue" else "blood"
        spec.append(f"{r.patient_id}\t{day}\t\tSPECIMEN\t{r.sample_id}\t{kind}\t{_value(r.timepoint, 'STRING')}")
    treat = ["PATIENT_ID\tSTART_DATE\tSTOP_DATE\tEVENT_TYPE\tTREATMENT_TYPE\tSUBTYPE\tAGENT\tAGENT_CLASS"]
    status = ["PATIENT_ID\tSTART_DATE\tSTOP_DATE\tEVENT_TYPE\tSTATUS"]
    for r in patients.sort_values("patient_id").itertuples():
        prog = None if pd.isna(r.progression_day) else int(r.progression_day)
        stop = prog if prog is not None else max(last_day.get(r.patient_id, 0), 0)
        treat.append(f"{r.patient_id}\t0\t{stop}\tTREATMENT\tMedical Therapy\tTargeted Therapy\t{r.drug}\t"
                     f"{_value(r.drug_class, 'STRING')}")
        if prog is not None:
            status.append(f"{r.patient_id}\t{prog}\t\tSTATUS\tProgression")
    for kind, lines in (("specimen", spec), ("treatment", treat), ("status", status)):
        (tmp / f"data_timeline_{kind}.txt").write_text("\n".join(lines) + "\n")
        (tmp / f"meta_timeline_{kind}.txt").write_text(_meta(
            cancer_study_identifier=sid, genetic_alteration_type="CLINICAL", datatype="TIMELINE",
            data_filename=f"data_timeline_{kind}.txt"))
