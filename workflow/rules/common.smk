# Shared helpers: load and validate the run ONCE, before any job is scheduled. All logic lives
# in the package (unlock_atlas.inputs); this file only adapts it to Snakemake.

import functools
import json
import os
import sys
from pathlib import Path

from unlock_atlas.inputs import ID_WILDCARD, load_run_or_exit

# Every {patient} / {sample} wildcard of every rule matches only what sheet validation accepts as
# an ID (unlock_atlas.inputs.sheets): never a '/', so a path cannot match a rule by spanning folders,
# and Snakemake's matching of requested files against output patterns stays cheap.
wildcard_constraints:
    patient=ID_WILDCARD,
    sample=ID_WILDCARD,


# Validates config + sheets (+ BAM headers) and exits with every problem listed, before any job.
# Cluster jobs re-parse the Snakefile: the main process checked the files and stored the validated
# run (results/private/, keyed by config + sheets + validation code: unlock_atlas.inputs.cache),
# which a job process loads instead of validating the sheets again.
RUN = load_run_or_exit(config, Path.cwd(), check_files=workflow.is_main_process, cache_dir="results/private")

# Rules call the `unlock-atlas` installed beside the Python running Snakemake (so an
# un-activated virtualenv works); with --sdm conda the job's environment comes first anyway.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

# The sheet indexed ONCE when the workflow is loaded (linear in the cohort): parse-time code and
# input functions look rows up here and never scan the sheet per patient or per job.
SAMPLE_ROW = {r.sample_id: r for r in RUN.samples.itertuples(index=False)}  # sample_id -> row (sheet order)
PATIENT_ROWS = {}  # patient_id -> its rows, in sheet order
for _row in SAMPLE_ROW.values():
    PATIENT_ROWS.setdefault(_row.patient_id, []).append(_row)
PATIENTS = sorted(PATIENT_ROWS)
ATLAS_DIR = "results/atlas"
REF_DIR = "results/reference"
ENV = "../envs/unlock-atlas.yaml"

# Stage rule files register the per-patient / per-sample table parts they produce here
# (table name -> list of results/tables/<table>/<id>.parquet); the atlas rule needs them all.
TABLE_PARTS = {}

# The validated configuration (defaults filled, paths absolute) handed to the CLI. Rewritten only
# when its content changes, so that its timestamp does not trigger reruns.
EFFECTIVE_CONFIG = "results/private/run_config.json"
_effective = f"{json.dumps(RUN.config, indent=2, sort_keys=True, default=str)}\n"
_eff_path = Path(EFFECTIVE_CONFIG)
if not _eff_path.exists() or _eff_path.read_text() != _effective:
    from unlock_atlas.atomic import write_text_atomic

    write_text_atomic(_eff_path, _effective)


def sample_rows():
    """(patient_id, sample_id) of every sample that has sequencing data."""
    return [(r.patient_id, r.sample_id) for r in SAMPLE_ROW.values()]


# -- UMI consensus (package logic: unlock_atlas.umi). With umi.mode none (the default) UMI_TYPES
# is empty and every consumer reads the input BAM exactly as before.
from unlock_atlas.umi import umi_settings

UMI = umi_settings(RUN.config)
UMI_TYPES = set(UMI["sample_types"]) if UMI["mode"] != "none" else set()


def input_bam_path(sample_id):
    """The sample's input BAM: as given in samples.tsv, or the one `align` makes from its FASTQs."""
    row = SAMPLE_ROW[sample_id]
    if isinstance(row.bam, str) and row.bam:
        return row.bam
    return f"results/align/{row.patient_id}/{row.sample_id}.bam"


def bam_path(sample_id):
    """The BAM every consumer reads: the UMI consensus BAM when the sample's type is in
    umi.sample_types and umi.mode is not none, else the input BAM."""
    row = SAMPLE_ROW[sample_id]
    if row.sample_type in UMI_TYPES:
        return f"results/umi/{row.patient_id}/{row.sample_id}.bam"
    return input_bam_path(sample_id)


def umi_input_bam(wildcards):
    return input_bam_path(wildcards.sample)


def umi_input_bai(wildcards):
    from unlock_atlas.inputs.bamcheck import find_bam_index

    bam = input_bam_path(wildcards.sample)
    found = find_bam_index(bam) if Path(bam).exists() else None
    return str(found) if found else f"{bam}.bai"


def umi_params(wildcards):
    """The `umi:` section for `unlock-atlas umi-consensus --params` (shell-quoted JSON)."""
    import shlex

    return shlex.quote(json.dumps(UMI, sort_keys=True))


def umi_samples():
    """(patient, sample) of the samples that go through UMI consensus."""
    return [(r.patient_id, r.sample_id) for r in SAMPLE_ROW.values() if r.sample_type in UMI_TYPES]


@functools.cache
def bai_path(sample_id):
    """The BAM's index (looked up on disk once per sample per process, not per job)."""
    from unlock_atlas.inputs.bamcheck import find_bam_index

    bam = bam_path(sample_id)
    found = find_bam_index(bam) if Path(bam).exists() else None
    return str(found) if found else f"{bam}.bai"


def bam_of(wildcards):
    return bam_path(wildcards.sample)


def bai_of(wildcards):
    return bai_path(wildcards.sample)


def patients():
    return PATIENTS


def patient_samples(patient):
    """The patient's sample rows (sheet order): a dict lookup, not a scan of the sheet."""
    return PATIENT_ROWS.get(patient, [])


def patient_bams(wildcards):
    return [bam_path(r.sample_id) for r in patient_samples(wildcards.patient)]


def patient_bais(wildcards):
    return [bai_path(r.sample_id) for r in patient_samples(wildcards.patient)]


def _calls_of(row):
    v = getattr(row, "calls", None)
    return v if isinstance(v, str) and v else None


def imports_calls(patient):
    """True when a sample of the patient has a `calls` file: its calls are imported (docs/import.md)."""
    return any(_calls_of(r) for r in patient_samples(patient))


def calling_bams(wildcards):
    return [] if imports_calls(wildcards.patient) else patient_bams(wildcards)


def calling_bais(wildcards):
    return [] if imports_calls(wildcards.patient) else patient_bais(wildcards)


def calling_pon(wildcards):
    return [] if imports_calls(wildcards.patient) else pon_inputs(wildcards)


def patient_calls(wildcards):
    """The patient's calls files (each once: a cohort MAF may be given on several rows)."""
    return list(dict.fromkeys(c for c in map(_calls_of, patient_samples(wildcards.patient)) if c))


def import_args(wildcards, input):
    """`unlock-atlas import` arguments of a patient whose calls are imported (quoted)."""
    import shlex

    rows = patient_samples(wildcards.patient)
    words = ["import", "--patient", wildcards.patient, "--samples", *[f"{r.sample_id}={r.sample_type}" for r in rows],
             "--sheet-samples", RUN.config["samples"]]
    vcfs = [(r.sample_id, _calls_of(r)) for r in rows if _calls_of(r) and ".vcf" in _calls_of(r)]
    mafs = list(dict.fromkeys(_calls_of(r) for r in rows if _calls_of(r) and ".vcf" not in _calls_of(r)))
    if vcfs:
        words += ["--calls", *[f"{s}={c}" for s, c in vcfs]]
    for maf in mafs:  # one MAF per patient (a cohort MAF named on its rows)
        words += ["--maf", maf, "--fasta", input.reference]
    extra = [(r.sample_id, getattr(r, "calls_sample", None)) for r in rows]
    extra = [f"{s}={c}" for s, c in extra if isinstance(c, str) and c]
    if extra:
        words += ["--calls-sample", *extra]
    origins = [(r.sample_id, getattr(r, "calls_origin", None)) for r in rows]
    origins = [f"{s}={o}" for s, o in origins if isinstance(o, str) and o]
    if origins:
        words += ["--calls-origin", *origins]
    return " ".join(shlex.quote(w) for w in words)


def call_command(wildcards, input):
    """The calling command of a patient: `unlock-atlas call` on its BAMs, or `import` of its calls files."""
    import shlex

    if imports_calls(wildcards.patient):
        return import_args(wildcards, input)
    pon = f"--pon {shlex.quote(PON_PREFIX)}" if (PON.bams or PON.prefix) else ""
    return (f"call --patient {shlex.quote(wildcards.patient)} {calling_args(wildcards, input)} "
            f"--panel {shlex.quote(input.panel)} --fasta {shlex.quote(input.reference)} {pon} "
            f"--params {shlex.quote(CALLING_PARAMS)}")


def calling_args(wildcards, input):
    """`unlock-atlas call` sample arguments: --bams S=BAM ..., --normal S, --plasma S ... (quoted)."""
    import shlex

    rows = patient_samples(wildcards.patient)
    words = ["--bams"] + [f"{r.sample_id}={b}" for r, b in zip(rows, input.bams)]
    normals = [r.sample_id for r in rows if r.sample_type == "normal"]
    if normals:
        words += ["--normal", normals[0]]
    plasma = [r.sample_id for r in rows if r.sample_type == "plasma"]
    if plasma:
        words += ["--plasma", *plasma]
    return " ".join(shlex.quote(w) for w in words)


def input_mb(input):
    """The job's input size in MiB (Snakemake's `input.size_mb`), one os.stat per file.

    `input.size_mb` goes through Snakemake's asynchronous storage layer: ~1 ms per job even when
    it cannot answer (during DAG building it gives up and the value is <TBD>), 5 s of a
    100-patient dry run. A missing input raises FileNotFoundError naming it, which Snakemake
    also turns into <TBD> and evaluates again when the job is about to run (inputs made).
    An input folder (a per-patient output) counts with the files in it.
    """
    return sum(_file_or_dir_size(f) for f in input) / 2**20


def _file_or_dir_size(path):
    if os.path.isdir(path):
        return sum(e.stat().st_size for e in os.scandir(path) if e.is_file())
    return os.path.getsize(path)


def mem_from_input(base_mb, per_gb_mb):
    """A memory request that grows with the input size (MB of RAM per GB of input)."""

    def _mem(wildcards, input):
        return int(base_mb + per_gb_mb * input_mb(input) / 1024)

    return _mem


def mem_from_largest_input(base_mb, per_gb_mb, name="bams"):
    """Memory for a per-patient job that handles its samples' BAMs one at a time: sized by the largest."""

    def _mem(wildcards, input):
        return int(base_mb + per_gb_mb * max(os.path.getsize(f) for f in input[name]) / 2**30)

    return _mem


def runtime_from_input(base_min, per_gb_min, per_sample=False):
    """Minutes growing with the input size; `per_sample`: a per-patient job pays the base once per sample."""

    def _rt(wildcards, input):
        n = len(patient_samples(wildcards.patient)) if per_sample else 1
        return int(base_min * n + per_gb_min * input_mb(input) / 1024)

    return _rt


def per_sample_commands(patient, bams, words):
    """Shell commands of a per-patient job, one per sample in sheet order, joined by `&&`.

    `words(sample_id, bam)` gives one command's words; each is shell-quoted here.
    """
    import shlex

    rows = patient_samples(patient)
    return " && ".join(shlex.join(words(r.sample_id, b)) for r, b in zip(rows, bams))


def panel_args():
    """CLI arguments naming the panel: the configured BED, or the panel genes (+ padding)."""
    import shlex

    ref = RUN.config["reference"]
    extra = f" --panel-extra-bed {shlex.quote(str(ref['panel_extra_bed']))}" if ref.get("panel_extra_bed") else ""
    if ref.get("panel_bed"):
        return f"--panel-bed {shlex.quote(str(ref['panel_bed']))}{extra}"
    args = f"--padding {int(ref.get('panel_padding', 20))}"
    if ref.get("panel_genes"):
        args = f"{args} --panel-genes {shlex.quote(','.join(ref['panel_genes']))}"
    return f"{args}{extra}"


def fastq_of(wildcards):
    row = SAMPLE_ROW[wildcards.sample]
    return {"r1": row.fastq_1, "r2": row.fastq_2}


def fastq_samples():
    """Samples given as FASTQ pairs (they go through `align`)."""
    return [r.sample_id for r in SAMPLE_ROW.values() if not (isinstance(r.bam, str) and r.bam)]


# -- variant calling: the panel of normals (planning logic: unlock_atlas.calling.plan) -------
from unlock_atlas.calling.plan import plan_panel_of_normals

# Which normals form the background panel (package logic: unlock_atlas.calling.plan), and the
# `calling:` thresholds handed to the CLI as JSON (workflow-only keys removed).
PON = plan_panel_of_normals(RUN.config, [(r.sample_id, r.sample_type) for r in SAMPLE_ROW.values()])
CALLING_PARAMS = PON.params_json
PON_PREFIX = PON.prefix or "results/calling/pon"


def pon_bams(wildcards):
    return [bam_path(s) if s in SAMPLE_ROW else b for s, b in PON.bams.items()]


def pon_bais(wildcards):
    return [bai_path(s) if s in SAMPLE_ROW else f"{b}.bai" for s, b in PON.bams.items()]


def pon_bam_args(wildcards, input):
    import shlex

    return " ".join(shlex.quote(f"{s}={b}") for s, b in zip(PON.bams, input.bams))


def pon_inputs(wildcards):
    return [f"{PON_PREFIX}.sites.parquet", f"{PON_PREFIX}.alleles.parquet"] if (PON.bams or PON.prefix) else []


# -- copy number / fusions -------------------------------------------------------------------
def fusion_normal_evidence(wildcards):
    """The patient's normal's evidence table (exactly one normal per patient: inputs/sheets.py)."""
    n = next(r.sample_id for r in patient_samples(wildcards.patient) if r.sample_type == "normal")
    return f"results/copynumber/{wildcards.patient}/reads/{n}.fusion_evidence.tsv"


def cn_reads(patient):
    """The patient's read-evidence folder: every sample's target coverage, its normal's junction evidence."""
    return f"results/copynumber/{patient}/reads"


def targetcov(patient, sample):
    return f"{cn_reads(patient)}/{sample}.targetcov.tsv"


def fusion_evidence(patient, sample):
    return f"{cn_reads(patient)}/{sample}.fusion_evidence.tsv"


def copynumber_read_commands(wildcards, input, output):
    """Per sample: target coverage; for the normal also the junction evidence its tumours are checked against."""
    import shlex

    fasta = f"{REF_DIR}/genome.fa.gz"
    cov = per_sample_commands(
        wildcards.patient,
        input.bams,
        lambda s, bam: ["unlock-atlas", "copynumber", "coverage", bam, "--panel", input.panel, "--fasta", fasta,
                        "-o", f"{output[0]}/{s}.targetcov.tsv"],
    )
    rows = patient_samples(wildcards.patient)
    ev = [shlex.join(["unlock-atlas", "copynumber", "fusion-evidence", bam, "--genes", input.genes,
                      "-o", f"{output[0]}/{r.sample_id}.fusion_evidence.tsv"])
          for r, bam in zip(rows, input.bams) if r.sample_type == "normal"]
    return " && ".join([cov, *ev])


def fusions_dir(patient):
    """The patient's fusion calls: <sample>.fusions.tsv and <sample>.fusion_candidates.tsv per tumour sample."""
    return f"results/copynumber/{patient}/fusions"


def copynumber_fusion_commands(wildcards, input, output):
    """Each tumour sample's fusion calls (CN_TUMOURS: copynumber.smk), one command per sample."""
    import shlex

    normal = fusion_normal_evidence(wildcards)
    return " && ".join(
        shlex.join(["unlock-atlas", "copynumber", "fusions", bam, "--genes", input.genes, "--normal", normal,
                    "--panel-normals", input.pooled, "-o", f"{output[0]}/{s}.fusions.tsv",
                    "--candidates", f"{output[0]}/{s}.fusion_candidates.tsv"])
        for s, bam in zip(CN_TUMOURS[wildcards.patient], input.bams)
    )


# -- single-cell ----------------------------------------------------------------------------
def h5ad_scaled(base, per_gb):
    """A resource that grows with the h5ad's size only (a genome-wide GTF input must not inflate it)."""

    def _f(wildcards, input):
        return int(base + per_gb * os.path.getsize(input.h5ad) / 1024**3)

    return _f
