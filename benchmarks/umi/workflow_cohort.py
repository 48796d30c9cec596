"""A tiny duplex-UMI cohort for a whole-workflow run with ``umi: {mode: duplex}`` (issue 16).

Usage::

    PYTHONPATH=src python benchmarks/umi/workflow_cohort.py RUN_DIR [--depth 100]
    snakemake -s Snakefile --directory RUN_DIR --configfile RUN_DIR/config/config.yaml --cores 2

One patient (NSCLC, sotorasib): white-cell normal, baseline tissue, baseline and progression
plasma, each a duplex-UMI library from ``unlock_atlas.simulate.umi.molecules`` over the KRAS and
BRAF coding exons (+-100 bp) in GRCh38 chromosome coordinates, ``--depth`` planted molecules per
base (~10 reads each); the progression plasma carries KRAS G12D (chr12:25,245,350 C>T) in 5 % of
molecules. Truth per sample: ``bams/<sample>.truth.tsv`` (planted molecules).

Not a test fixture: the pure-Python UMI simulator makes ~50,000 pairs per sample in ~1 min, so
this cohort is far shallower and narrower than the ``small`` cohort. 2026-12-08 (wt-umi, load
~20): simulation 3 min 33 s; the workflow ran umi_consensus for all 4 samples, qc, calling and
annotation, and stopped in identity_check, which fails on a panel with no fingerprint sites
(identity/compare.py ``stack`` on empty fingerprints; not a UMI problem). The joint VCF held one
record: chr12:25245350 C>T PASS somatic, AF 0.034 in the progression plasma, 0 elsewhere.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from unlock_atlas.paths import resolve_data_dir
from unlock_atlas.reference.panel import panel_from_gtf
from unlock_atlas.simulate.umi.molecules import UmiSimParams, regions_from_fasta, simulate_umi_reads

GENES = {"KRAS": "chr12_25205246_25250929", "BRAF": "chr7_140717327_140929764"}
G12D = ("chr12", 25_245_350 - 1, "T")
#: sample, type, timepoint, day, G12D VAF, seed
SAMPLES = [("UMI01-N", "normal", "", "0", 0.0, 1), ("UMI01-T", "tissue", "baseline", "-7", 0.0, 2),
           ("UMI01-P-BL", "plasma", "baseline", "0", 0.0, 3), ("UMI01-P-PD", "plasma", "progression", "200", 0.05, 4)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--depth", type=float, default=100, help="planted molecules per base")
    args = ap.parse_args()
    data = resolve_data_dir(None)
    fa = data / "reference_grch38" / "panel_genes.GRCh38.fa"
    ivs = panel_from_gtf(data / "transcripts_grch38" / "panel_mane_select.GRCh38.gtf", list(GENES), 20)
    regs = regions_from_fasta(fa, list(GENES.values()), chromosome_coordinates=True)
    for r in regs:
        r.intervals = [(iv.start - 100, iv.end + 100) for iv in ivs
                       if iv.chrom == r.contig and r.offset <= iv.start < r.offset + len(r.seq)]
    total_bp = sum(e - s for r in regs for s, e in r.intervals)
    molecules = int(args.depth * total_bp / 167)
    (args.run / "config").mkdir(parents=True, exist_ok=True)
    (args.run / "bams").mkdir(exist_ok=True)
    rows = ["patient_id\tsample_id\tsample_type\ttimepoint\tcollection_day\tbam\tpurity"]
    for sid, st, tp, day, vaf, seed in SAMPLES:
        variants = ((G12D[0], G12D[1], G12D[2], vaf),) if vaf else ()
        simulate_umi_reads(regs, UmiSimParams(molecules=molecules, seed=100 + seed, variants=variants),
                           args.run / "bams" / f"{sid}.bam", args.run / "bams" / f"{sid}.truth.tsv", sid)
        rows.append(f"UMI01\t{sid}\t{st}\t{tp}\t{day}\tbams/{sid}.bam\t{'0.5' if st == 'tissue' else ''}")
    (args.run / "config" / "samples.tsv").write_text("\n".join(rows) + "\n")
    (args.run / "config" / "patients.tsv").write_text(
        "patient_id\ttumour_type\tdrug\ttreatment_start\tprogression_day\tbest_response\nUMI01\tNSCLC\tsotorasib\t0\t200\tPR\n")
    (args.run / "config" / "config.yaml").write_text(
        "patients: config/patients.tsv\nsamples: config/samples.tsv\nreference:\n"
        '  fasta: "{data_dir}/reference_grch38/panel_genes.GRCh38.fa"\n'
        '  gtf: "{data_dir}/transcripts_grch38/panel_mane_select.GRCh38.gtf"\n'
        f"  panel_genes: [{', '.join(GENES)}]\numi:\n  mode: duplex\n")
    print(f"{len(SAMPLES)} samples, {molecules:,} molecules each over {total_bp:,} bp -> {args.run}")


if __name__ == "__main__":
    main()
