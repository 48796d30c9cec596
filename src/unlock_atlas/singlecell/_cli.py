"""``unlock-atlas sc {annotate,simulate,tables}``."""

from __future__ import annotations

import argparse
import logging

from ..contract.vocab import TIMEPOINTS

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sc", help="single-cell RNA: annotate, simulate, atlas parts")
    sub = p.add_subparsers(dest="sc_command", required=True)

    a = sub.add_parser("annotate", help="QC, clustering, cell types, malignant calls, programme scores of one h5ad")
    a.add_argument("input", help="input .h5ad or 10x .h5 (raw counts in .X or .layers['counts'], or log-normalised)")
    a.add_argument("-o", "--output", required=True, help="output .h5ad")
    a.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    a.add_argument("--gtf", help="GTF to place genes for copy-number inference when var lacks chromosome/start/end")
    a.add_argument("--tumour-type", help="the patient's tumour type (patients.tsv): sets the expected malignant lineage "
                   "(resources/singlecell/tumour_lineage.tsv); not given or not listed: lineage-agnostic calls")
    a.add_argument("--no-cnv", action="store_true", help="skip copy-number inference (malignant stays null)")
    a.add_argument("--plots", help="directory for UMAP PNGs (cell type, malignant, leiden)")
    a.set_defaults(func=_annotate)

    s = sub.add_parser("simulate", help="simulate one biopsy's scRNA counts with planted truth")
    s.add_argument("-o", "--output", required=True, help="output .h5ad")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--patient-seed", type=int, default=1, help="seed of the patient's copy-number clone")
    s.add_argument("--timepoint", default="baseline", choices=TIMEPOINTS)
    s.add_argument("--n-cells", type=int, default=3000)
    s.add_argument("--n-genes", type=int, default=3000)
    s.add_argument("--sample-id", default="SIM-1")
    s.set_defaults(func=_simulate)

    c = sub.add_parser("cohort", help="integrate annotated samples (Harmony) into one cohort h5ad")
    c.add_argument("inputs", nargs="+", help="annotated .h5ad files (`sc annotate` outputs)")
    c.add_argument("-o", "--output", required=True, help="results/singlecell/cohort.h5ad")
    c.add_argument("--sample-ids", help="comma-separated sample IDs in input order (default: file stems)")
    c.add_argument("--timepoints", help="comma-separated timepoints in input order")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--plots", help="directory for UMAPs by cell type / malignant / sample and programme-by-timepoint plots")
    c.set_defaults(func=_cohort)

    t = sub.add_parser("tables", help="atlas parts sc_composition and sc_programs from an annotated h5ad")
    t.add_argument("input", help="output of `sc annotate`")
    t.add_argument("--patient-id", required=True)
    t.add_argument("--sample-id", required=True)
    t.add_argument("--timepoint", default=None)
    t.add_argument("--composition", required=True, help="results/tables/sc_composition/<sample>.parquet")
    t.add_argument("--programs", required=True, help="results/tables/sc_programs/<sample>.parquet")
    t.set_defaults(func=_tables)


def _annotate(args: argparse.Namespace) -> int:
    from .pipeline import annotate_file

    ad = annotate_file(args.input, args.output, seed=args.seed, gtf=args.gtf, call_cnv=not args.no_cnv,
                       tumour_type=args.tumour_type)
    info = ad.uns["unlock_sc"]
    logger.info("input detected as %s; %s of %s cells kept", info["qc"]["input_kind"], info["qc"]["cells_out"],
                info["qc"]["cells_in"])
    print(f"{args.input}: input {info['qc']['input_kind']}; {ad.n_obs} cells; "
          f"malignant calls {info['malignant']['status']} (lineage {info['malignant'].get('lineage', '?')}); "
          f"wrote {args.output}")
    if args.plots:
        from .plots import umap_plots

        umap_plots(ad, args.plots)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import anndata

    from ..atomic import atomic_path
    from .simulate import simulate_sample

    anndata.settings.allow_write_nullable_strings = True
    ad = simulate_sample(args.n_cells, seed=args.seed, patient_seed=args.patient_seed, timepoint=args.timepoint,
                         n_genes=args.n_genes, sample_id=args.sample_id)
    with atomic_path(args.output, suffix=".h5ad") as tmp:
        ad.write_h5ad(tmp, compression="gzip")
    return 0


def _cohort(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import InputError, Problem
    from .cohort import integrate_files

    ids = args.sample_ids.split(",") if args.sample_ids else [Path(p).stem for p in args.inputs]
    tps = args.timepoints.split(",") if args.timepoints else [None] * len(ids)
    if len(ids) != len(args.inputs) or len(tps) != len(args.inputs):
        raise InputError(Problem("sc cohort", "--sample-ids / --timepoints must list one value per input",
                                 f"give {len(args.inputs)} comma-separated values"))
    co = integrate_files(dict(zip(ids, args.inputs)), args.output, dict(zip(ids, tps)), args.seed)
    logger.info("cohort: %d cells from %d samples", co.n_obs, len(ids))
    if args.plots:
        from .plots import cohort_plots

        cohort_plots(co, args.plots)
    return 0


def _tables(args: argparse.Namespace) -> int:
    import anndata

    from .tables import write_tables

    ad = anndata.read_h5ad(args.input)
    n_c, n_p = write_tables(ad, args.patient_id, args.sample_id, args.timepoint, args.composition, args.programs)
    logger.info("sc_composition: %d rows; sc_programs: %d rows", n_c, n_p)
    return 0
