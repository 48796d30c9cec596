"""``unlock-atlas copynumber {coverage,reference,call}``: copy number from panel depth.

* ``coverage BAM --panel BED --fasta FA -o OUT.tsv`` — per-target fragment depth and GC.
* ``reference NORMAL.tsv... -o REF.tsv`` — panel of normals (IDs from the file names
  ``<sample_id>.targetcov.tsv`` or ``--ids``).
* ``fusion-evidence BAM --genes GENES.tsv -o EV.tsv`` — every split-read / discordant-pair
  junction cluster of one BAM, unfiltered (a normal's evidence is what a tumour is checked against).
* ``fusion-normals EV.tsv... -o POOLED.tsv`` — the cohort's normals' evidence, pooled.
* ``fusions (BAM | --evidence EV.tsv) --genes GENES.tsv [--normal NEV.tsv] [--panel-normals POOLED.tsv]
  -o OUT.tsv [--candidates ALL.tsv]`` — reported fusions (5' partner first), normals subtracted.
* ``tumour-fraction --config C --patient P --variants VARIANTS.parquet -o TF.tsv`` — tumour
  fraction of the patient's tumour samples (:mod:`unlock_atlas.ctdna_fraction`), run before
  plasma copy-number calling.
* ``call COV.tsv --reference REF.tsv --sample-id S --patient-id P --sample-type T
  [--purity X | --tumour-fraction X | --tumour-fraction-table TF.tsv] -o PART.parquet
  [--targets OUT.cnr.tsv] [--plot OUT.png]``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..contract.vocab import SAMPLE_TYPES
from ..errors import InputError, Problem

logger = logging.getLogger(__name__)

COVERAGE_SUFFIX = ".targetcov.tsv"
EVIDENCE_SUFFIX = ".fusion_evidence.tsv"
#: columns of the variants part the tumour-fraction step reads (schema_variants.py)
TF_VARIANT_COLUMNS = ["sample_id", "chrom", "pos", "ref", "alt", "alt_reads", "depth", "vaf", "vaf_ci_low",
                      "vaf_ci_high", "status", "filter", "origin"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("copynumber", help="gene-level copy number from panel depth vs a panel of normals",
                              description="Copy number from hybrid-capture panel depth (docs/copynumber.md).")
    sub = p.add_subparsers(dest="cn_command", metavar="STEP", required=True)

    c = sub.add_parser("coverage", help="per-target fragment depth of one BAM")
    c.add_argument("bam", type=Path)
    c.add_argument("--panel", type=Path, required=True, help="panel BED (results/reference/panel.bed)")
    c.add_argument("--fasta", type=Path, required=True, help="reference FASTA (results/reference/genome.fa.gz)")
    c.add_argument("-o", "--output", type=Path, required=True)
    c.set_defaults(func=_coverage)

    r = sub.add_parser("reference", help="panel of normals from the normals' coverage tables")
    r.add_argument("coverages", type=Path, nargs="+", help=f"normals' <sample_id>{COVERAGE_SUFFIX} files")
    r.add_argument("--ids", help="comma-separated sample IDs, in the order of the files (default: from file names)")
    r.add_argument("-o", "--output", type=Path, required=True)
    r.set_defaults(func=_reference)

    k = sub.add_parser("call", help="gene-level log2 ratio, copy number and call of one sample")
    k.add_argument("coverage", type=Path)
    k.add_argument("--reference", type=Path, required=True)
    k.add_argument("--sample-id", required=True)
    k.add_argument("--patient-id", required=True)
    k.add_argument("--sample-type", required=True, choices=SAMPLE_TYPES)
    k.add_argument("--purity", type=float, help="tissue purity (samples.tsv)")
    tf = k.add_mutually_exclusive_group()
    tf.add_argument("--tumour-fraction", type=float, help="plasma tumour fraction (no interval)")
    tf.add_argument("--tumour-fraction-table", type=Path,
                    help="plasma: the patient's tumour-fraction table (`copynumber tumour-fraction` output); "
                         "the sample's estimate and 95%% interval are used")
    k.add_argument("-o", "--output", type=Path, required=True, help="atlas part (.parquet)")
    k.add_argument("--targets", type=Path, help="also write per-target log2 ratios (TSV)")
    k.add_argument("--plot", type=Path, help="also write the gene-level log2 plot (PNG)")
    k.set_defaults(func=_call)

    t = sub.add_parser("tumour-fraction", help="tumour fraction of a patient's tumour samples from its variants part",
                       description="2 x pooled VAF of the patient's truncal heterozygous variants, with a Wilson "
                                   "interval (docs/copynumber.md, docs/classification.md); plasma copy-number "
                                   "calling reads it.")
    t.add_argument("--config", type=Path, required=True, help="run config (config.yaml or the validated run_config.json)")
    t.add_argument("--directory", type=Path, default=Path("."), help="run directory (default: .)")
    t.add_argument("--patient", required=True, help="patient ID (raw, as in patients.tsv)")
    t.add_argument("--variants", type=Path, required=True, help="the patient's variants part (results/tables/variants/P.parquet)")
    t.add_argument("-o", "--output", type=Path, required=True, help="tumour-fraction table (TSV)")
    t.set_defaults(func=_tumour_fraction)

    e = sub.add_parser("fusion-evidence", help="every split-read / discordant-pair junction cluster of one BAM")
    e.add_argument("bam", type=Path)
    e.add_argument("--genes", type=Path, required=True,
                   help="gene spans (results/reference/genes.tsv): the scanned regions")
    e.add_argument("-o", "--output", type=Path, required=True, help="evidence table (TSV)")
    e.set_defaults(func=_fusion_evidence)

    n = sub.add_parser("fusion-normals", help="pool the cohort's normals' fusion evidence")
    n.add_argument("evidence", type=Path, nargs="+", help=f"normals' <sample_id>{EVIDENCE_SUFFIX} files")
    n.add_argument("--ids", help="comma-separated sample IDs, in the order of the files (default: from file names)")
    n.add_argument("-o", "--output", type=Path, required=True)
    n.set_defaults(func=_fusion_normals)

    f = sub.add_parser("fusions", help="gene fusions of one sample: orientation-checked, normals subtracted")
    src = f.add_mutually_exclusive_group(required=True)
    src.add_argument("bam", type=Path, nargs="?", help="the sample's BAM (scanned here)")
    src.add_argument("--evidence", type=Path, help="the sample's evidence table (`fusion-evidence`) instead of a BAM")
    f.add_argument("--genes", type=Path, required=True, help="gene spans (results/reference/genes.tsv)")
    f.add_argument("--normal", type=Path, help="the patient's normal's evidence table (`fusion-evidence`)")
    f.add_argument("--panel-normals", type=Path, help="the cohort's normals' pooled evidence (`fusion-normals`)")
    f.add_argument("-o", "--output", type=Path, required=True, help="reported fusions (TSV)")
    f.add_argument("--candidates", type=Path, help="also write every candidate with its filter (TSV)")
    f.set_defaults(func=_fusions)


def _coverage(args: argparse.Namespace) -> int:
    from .coverage import target_coverage, write_coverage

    df = target_coverage(args.bam, args.panel, args.fasta)
    write_coverage(df, args.output)
    logger.info("%s: %d targets, median fragment depth %.1f -> %s", args.bam, len(df), df["depth"].median(), args.output)
    return 0


def _reference(args: argparse.Namespace) -> int:
    from .coverage import read_coverage
    from .normalise import build_reference, write_reference

    if args.ids:
        ids = args.ids.split(",")
        if len(ids) != len(args.coverages):
            raise InputError(Problem("--ids", f"{len(ids)} IDs for {len(args.coverages)} files", "give one ID per file"))
    else:
        ids = [p.name[: -len(COVERAGE_SUFFIX)] if p.name.endswith(COVERAGE_SUFFIX) else p.stem for p in args.coverages]
    ref = build_reference({i: read_coverage(p) for i, p in zip(ids, args.coverages)})
    write_reference(ref, str(args.output))
    logger.info("reference from %d normals, %d/%d usable targets -> %s", len(ids), int(ref["usable"].sum()), len(ref),
                args.output)
    return 0


def _call(args: argparse.Namespace) -> int:
    from ..contract.parts import write_part
    from .sample import call_sample, plasma_tumour_fraction, plot_genes, write_targets

    tf, interval = args.tumour_fraction, None
    if args.tumour_fraction_table is not None:
        tf, interval = plasma_tumour_fraction(args.tumour_fraction_table, args.sample_id)
    targets, genes = call_sample(args.coverage, args.reference, args.sample_id, args.patient_id, args.sample_type,
                                 args.purity, tf, interval)
    write_part(genes, "copy_number", args.output)
    if args.targets:
        write_targets(targets, args.targets)
    if args.plot:
        plot_genes(genes, targets, f"{args.sample_id} ({args.sample_type})", args.plot)
    altered = genes[genes["call"].isin(["amplification", "deep_deletion", "gain", "loss"])]
    logger.info("%s: tumour content %s (%s)", args.sample_id, genes["tumour_content"].dropna().max()
                if genes["tumour_content"].notna().any() else "none", ",".join(sorted(set(genes["tumour_content_source"]))))
    logger.info("%s: %d genes, %s -> %s", args.sample_id, len(genes),
                ", ".join(f"{g} {c}" for g, c in zip(altered["gene"], altered["call"])) or "all neutral", args.output)
    return 0


def _tumour_fraction(args: argparse.Namespace) -> int:
    from ..ctdna_fraction import patient_samples, tumour_fractions
    from ..ctdna_fraction import write_tumour_fractions as write_tf
    from ..inputs import load_run
    from ..tables import read_table

    run_dir = args.directory.resolve()
    config = args.config if args.config.is_absolute() else run_dir / args.config
    run = load_run(config, run_dir, check_files=False)
    samples = patient_samples(run, args.patient)
    if samples.empty:
        raise InputError(Problem("samples.tsv", f"patient {args.patient} has no sample", "pass a patient ID of the sheet"))
    variants = read_table(args.variants, "variants part", "rerun `unlock-atlas call` for this patient",
                          columns=TF_VARIANT_COLUMNS, fix_columns="rebuild it with the current `unlock-atlas call`")
    tf = tumour_fractions(args.patient, samples, variants)
    write_tf(tf, args.output)
    for r in tf.itertuples():
        logger.info("%s (%s): tumour fraction %s [%s]", r.sample_id, r.sample_type,
                    "-" if r.method == "none" else f"{r.tumour_fraction:.4f}", r.method)
    return 0


def _regions(genes) -> list[tuple[str, int, int]]:
    return [(r.chrom, max(0, int(r.start) - 1), int(r.end)) for r in genes.itertuples()]


def _fusion_evidence(args: argparse.Namespace) -> int:
    from .fusions import read_genes, scan_bam, write_table

    genes = read_genes(args.genes)
    ev = scan_bam(args.bam, _regions(genes))
    write_table(ev, args.output)
    logger.info("%s: %d junction cluster(s) -> %s", args.bam, len(ev), args.output)
    return 0


def _fusion_normals(args: argparse.Namespace) -> int:
    from .fusions import pool_normals, read_evidence, write_table

    if args.ids:
        ids = args.ids.split(",")
        if len(ids) != len(args.evidence):
            raise InputError(Problem("--ids", f"{len(ids)} IDs for {len(args.evidence)} files", "give one ID per file"))
    else:
        ids = [p.name[: -len(EVIDENCE_SUFFIX)] if p.name.endswith(EVIDENCE_SUFFIX) else p.stem for p in args.evidence]
    pooled = pool_normals({i: read_evidence(p, i) for i, p in zip(ids, args.evidence)})
    write_table(pooled, args.output)
    logger.info("%d normals, %d junction cluster(s) -> %s", len(ids), len(pooled), args.output)
    return 0


def _fusions(args: argparse.Namespace) -> int:
    from .fusions import call_fusions, read_evidence, read_genes, scan_bam, write_table

    genes = read_genes(args.genes)
    evidence = read_evidence(args.evidence, "sample") if args.evidence else scan_bam(args.bam, _regions(genes))
    normal = read_evidence(args.normal, "normal") if args.normal else None
    pon = read_evidence(args.panel_normals) if args.panel_normals else None
    events, cands = call_fusions(evidence, genes, normal, pon)
    write_table(events, args.output)
    if args.candidates:
        write_table(cands, args.candidates)
    if normal is None:
        logger.warning("no --normal given: fusions are not checked against the patient's normal")
    logger.info("%s: %d fusion(s) reported of %d junction cluster(s) (%s) -> %s", args.evidence or args.bam,
                len(events), len(cands), ", ".join(f"{k} {v}" for k, v in cands["filter"].value_counts().items())
                or "none", args.output)
    return 0
