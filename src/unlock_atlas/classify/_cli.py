"""``unlock-atlas classify``: one patient's alterations, ctDNA tumour fractions and mechanisms."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError, Problem


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "classify", help="resistance mechanisms of one patient (alterations, ctDNA, mechanisms parts)",
        description="Track the patient's somatic alterations across timepoints, estimate the tumour fraction of each "
                    "tumour sample, and classify resistance mechanisms against the drug(s) the patient progressed on "
                    "(see docs/classification.md). Writes three atlas parts.")
    p.add_argument("--config", type=Path, required=True, help="run config (config.yaml or the validated run_config.json)")
    p.add_argument("--directory", type=Path, default=Path("."), help="run directory (default: .)")
    p.add_argument("--patient", required=True, help="patient ID (raw, as in patients.tsv)")
    p.add_argument("--variants", type=Path, required=True, help="the patient's variants part (results/tables/variants/P.parquet)")
    p.add_argument("--copy-number", type=Path, nargs="*", default=[], help="copy-number parts of the patient's samples")
    p.add_argument("--fusions", nargs="*", default=[], metavar="SAMPLE=TSV", help="fusion tables per sample")
    p.add_argument("--bams", nargs="*", default=[], metavar="SAMPLE=BAM", help="BAMs for phasing compound mutations")
    p.add_argument("--sc-programs", type=Path, nargs="*", default=[],
                   help="sc_programs parts of the patient's biopsies (non-genetic candidates)")
    p.add_argument("--identity", type=Path,
                   help="sample-identity verdicts (results/identity/patients.tsv): a patient whose identity check "
                        "failed (classify = withheld) gets empty parts (docs/identity.md)")
    p.add_argument("--alterations", type=Path, required=True, help="output part: alterations")
    p.add_argument("--mechanisms", type=Path, required=True, help="output part: mechanisms")
    p.add_argument("--ctdna", type=Path, required=True, help="output part: ctdna (tumour fraction per sample)")
    p.set_defaults(func=handler)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        sid, sep, path = item.partition("=")
        if not sep or not sid or not path:
            raise InputError(Problem(f"--{what}", f"{item!r} is not SAMPLE=PATH", f"write --{what} SAMPLE=PATH ..."))
        out[sid] = path
    return out


def handler(args: argparse.Namespace) -> int:
    from ..inputs import load_run
    from .nongenetic import read_sc_programs
    from .patient import patient_from_run, read_copy_number, read_fusions, read_variants
    from .stage import classify, identity_withheld, withheld, write_parts

    run_dir = args.directory.resolve()
    config = args.config if args.config.is_absolute() else run_dir / args.config
    run = load_run(config, run_dir, check_files=False)
    if args.identity is not None and identity_withheld(args.identity, args.patient):
        write_parts(withheld(), ctdna=args.ctdna, alterations=args.alterations, mechanisms=args.mechanisms)
        return 0
    fusions = _pairs(args.fusions, "fusions")
    pat = patient_from_run(run, args.patient, read_variants(args.variants), read_copy_number(args.copy_number),
                           read_fusions(fusions), _pairs(args.bams, "bams"), set(fusions),
                           read_sc_programs(args.sc_programs))
    write_parts(classify(pat), ctdna=args.ctdna, alterations=args.alterations, mechanisms=args.mechanisms)
    return 0
