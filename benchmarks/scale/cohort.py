"""Synthetic large cohort for the scale benchmark: sheets + header-only indexed BAMs.

``make_cohort(root, 1000)`` writes ``root/bams/<sample>.bam`` (+ ``.bai``) for 1,000 patients
× 6 samples (normal, tissue at baseline and progression, plasma at baseline, on treatment and
progression: the design of the simulated cohorts) and, for each requested cohort size N,
``root/n<N>/config/{config.yaml,patients.tsv,samples.tsv}`` naming the first N patients.

The BAMs hold a real header (``@HD SO:coordinate``, the GRCh38 primary-assembly ``@SQ`` lines,
``@RG SM:<sample>``) and no reads, with a real ``.bai`` index made by samtools (through pysam).
That is exactly what sheet validation reads (header and index presence), so the benchmark
counts validation at full cohort size while the files stay tiny (~3 kB each). The reference
and panel are the shared GRCh38 data (``../shared/data``), as in the simulated cohorts.

Deterministic: patient attributes cycle through the demo cohort's drugs and responses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pysam

from unlock_atlas.reference.genome import grch38_chromosomes

#: (tumour_type, drug, best_response, progression_day) cycled over patients: the demo cohort's
#: regimens (drugs known to the knowledge base, resources/).
REGIMENS = [
    ("NSCLC", "osimertinib", "PR", 336),
    ("NSCLC", "sotorasib", "SD", 203),
    ("melanoma", "dabrafenib+trametinib", "PR", 245),
    ("colorectal", "cetuximab", "SD", 287),
    ("NSCLC", "lorlatinib", "PR", 364),
]
#: (suffix, sample_type, timepoint, collection day relative to progression or absolute)
SAMPLES = [
    ("N", "normal", "", 0),
    ("T-BL", "tissue", "baseline", -7),
    ("T-PD", "tissue", "progression", None),
    ("P-BL", "plasma", "baseline", 0),
    ("P-OT", "plasma", "on_treatment", 56),
    ("P-PD", "plasma", "progression", None),
]
PANEL_GENES = ["EGFR", "KRAS", "BRAF", "MET", "ALK", "PIK3CA", "NRAS", "MAP2K1", "TP53",
               "PTEN", "NF2", "STK11", "CDK4", "RB1", "RET", "CDKN2A", "MAP2K2"]

CONFIG = """# synthetic scale cohort ({n} patients) - benchmarks/scale/cohort.py
patients: config/patients.tsv
samples: config/samples.tsv
data_dir: null
reference:
  build: GRCh38
  fasta: "{{data_dir}}/reference_grch38/panel_genes.GRCh38.fa"
  gtf: "{{data_dir}}/transcripts_grch38/panel_mane_select.GRCh38.gtf"
  panel_genes: [{genes}]
  panel_padding: 20
privacy:
  pseudonymise: true
"""


def patient_id(i: int) -> str:
    return f"SCL{i:05d}"


def write_bams(root: Path, n_patients: int) -> int:
    """Header-only, indexed BAMs for ``n_patients`` (existing ones are kept). Returns the count."""
    bams = root / "bams"
    bams.mkdir(parents=True, exist_ok=True)
    sq = [{"SN": c, "LN": n} for c, n in grch38_chromosomes().items()]
    n = 0
    for i in range(1, n_patients + 1):
        for suffix, *_ in SAMPLES:
            sid = f"{patient_id(i)}-{suffix}"
            bam = bams / f"{sid}.bam"
            n += 1
            if bam.exists() and Path(f"{bam}.bai").exists():
                continue
            header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": sq,
                      "RG": [{"ID": sid, "SM": sid, "PL": "ILLUMINA"}]}
            with pysam.AlignmentFile(str(bam), "wb", header=header):
                pass
            pysam.index(str(bam))
    return n


def write_sheets(root: Path, n_patients: int) -> Path:
    """``root/n<N>/config/`` for the first ``n_patients`` patients; returns the run directory."""
    run = root / f"n{n_patients}"
    cfg = run / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    p_lines = ["patient_id\ttumour_type\tdrug\ttreatment_start\tprogression_day\tbest_response\tearly_trial_after"]
    s_lines = ["patient_id\tsample_id\tsample_type\ttimepoint\tcollection_day\tbam\tfastq_1\tfastq_2\tscrna\tpurity\thistology"]
    for i in range(1, n_patients + 1):
        pid = patient_id(i)
        tumour, drug, resp, prog = REGIMENS[(i - 1) % len(REGIMENS)]
        prog += (i * 7) % 60
        p_lines.append(f"{pid}\t{tumour}\t{drug}\t0\t{prog}\t{resp}\t{'true' if i % 2 else 'false'}")
        for suffix, stype, tp, day in SAMPLES:
            sid = f"{pid}-{suffix}"
            bam = (root / "bams" / f"{sid}.bam").resolve()
            purity = "0.5" if stype == "tissue" else ""
            hist = "adenocarcinoma" if stype == "tissue" else ""
            s_lines.append(f"{pid}\t{sid}\t{stype}\t{tp}\t{prog if day is None else day}\t{bam}\t\t\t\t{purity}\t{hist}")
    (cfg / "patients.tsv").write_text("\n".join(p_lines) + "\n")
    (cfg / "samples.tsv").write_text("\n".join(s_lines) + "\n")
    (cfg / "config.yaml").write_text(CONFIG.format(n=n_patients, genes=", ".join(PANEL_GENES)))
    return run


def make_cohort(root: Path, sizes: list[int]) -> dict[int, Path]:
    """BAMs for the largest size and one run directory per size."""
    write_bams(root, max(sizes))
    return {n: write_sheets(root, n) for n in sizes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--sizes", default="100,1000")
    a = ap.parse_args()
    for n, run in make_cohort(a.root, [int(x) for x in a.sizes.split(",")]).items():
        print(n, run)


if __name__ == "__main__":
    main()
