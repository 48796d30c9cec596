"""Truth tables and run configuration written by the simulator.

``truth/variants.tsv``, ``truth/copy_number.tsv``, ``truth/fusions.tsv`` and
``truth/mechanisms.tsv`` record what was planted (columns documented in :data:`VARIANT_COLUMNS` etc.); ``config/config.yaml``,
``config/patients.tsv``, ``config/samples.tsv`` (and ``config/treatments.tsv`` when a patient has
treatment lines) are the pipeline's inputs (design.md §2),
with paths relative to the run directory; ``config/panel_extra.bed`` holds the scenario's extra
baits (``prepare-reference --panel-extra-bed``). All files are TSV with LF endings, deterministic,
and written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import write_text_atomic
from ..reference.genome import grch38_chromosomes
from .scenario import Scenario

if TYPE_CHECKING:
    from .cohort import CohortPlan
    from .panelgenome import PanelGenome
    from .run import SampleResult

VARIANT_COLUMNS = ["patient_id", "sample_id", "sample_type", "timepoint", "chrom", "pos", "ref", "alt", "gene",
                   "hgvsp_short", "kind", "origin", "role", "expected_vaf", "planted_alt_fragments",
                   "fragments_covering"]
COPY_NUMBER_COLUMNS = ["patient_id", "sample_id", "gene", "tumour_copy_number", "tumour_content",
                       "expected_copy_ratio", "expected_log2_ratio"]
MECHANISM_COLUMNS = ["patient_id", "drug", "class", "subclass", "gene", "alteration", "acquisition", "phase",
                     "first_plasma_day", "citation", "line"]
#: config/treatments.tsv, written when a simulated patient has ``lines:`` (one row per patient x line)
TREATMENT_COLUMNS = ["patient_id", "line", "drug", "start_day", "progression_day", "best_response"]
#: one row per planted fusion x sample of its patient (the normal and samples without it included,
#: expected 0): ``pos5`` last base of the 5' gene kept, ``pos3`` first base of the 3' gene kept;
#: ``expected_fraction_5/3`` chimeric fraction of the molecules crossing each breakpoint;
#: ``chimeric_molecules`` unique chimeric molecules planted, ``detectable_molecules`` those with
#: >= 30 bases of each partner (they give a split read or a discordant pair, simulate/fusion.py),
#: ``chimeric_read_pairs`` their read pairs including PCR duplicates.
FUSION_COLUMNS = ["patient_id", "sample_id", "sample_type", "timepoint", "fusion_id", "gene5", "chrom5", "pos5",
                  "strand5", "gene3", "chrom3", "pos3", "strand3", "expected_fraction_5", "expected_fraction_3",
                  "chimeric_molecules", "detectable_molecules", "chimeric_read_pairs"]
PATIENT_COLUMNS = ["patient_id", "tumour_type", "drug", "treatment_start", "progression_day", "best_response",
                   "early_trial_after"]
SAMPLE_COLUMNS = ["patient_id", "sample_id", "sample_type", "timepoint", "collection_day", "bam", "fastq_1",
                  "fastq_2", "scrna", "purity", "histology"]


def _tsv(columns: list[str], rows: list[list[object]]) -> str:
    lines = ["\t".join(columns)]
    lines += ["\t".join("" if x is None else str(x) for x in r) for r in rows]
    return "\n".join(lines) + "\n"


def _g(x: float) -> str:
    return f"{x:.6g}"


def write_truth(out: Path, scn: Scenario, genome: PanelGenome, plan: CohortPlan,
                results: dict[str, SampleResult]) -> None:
    """Write ``truth/variants.tsv``, ``truth/copy_number.tsv`` and ``truth/mechanisms.tsv``."""
    karyo = {c: i for i, c in enumerate(grch38_chromosomes())}
    vrows = []
    for s in plan.samples:
        res = results.get(s.sample_id)
        order = sorted(range(len(s.variants)),
                       key=lambda i: (karyo.get(s.variants[i][0].allele.chrom, 99), s.variants[i][0].allele.pos,
                                      s.variants[i][0].allele.alt))
        for i in order:
            v, vaf = s.variants[i]
            a = v.allele
            vrows.append([s.patient_id, s.sample_id, s.sample_type, s.timepoint, a.chrom, a.pos, a.ref, a.alt, v.gene,
                          v.hgvsp_short, a.kind, v.origin, v.role, _g(vaf),
                          res.planted_alt[i] if res else "", res.covering[i] if res else ""])
    write_text_atomic(out / "truth" / "variants.tsv", _tsv(VARIANT_COLUMNS, vrows))

    crows = []
    for s in plan.samples:
        for gene in scn.panel_genes:
            cn = s.gene_cn.get(gene, 2.0)
            ratio = s.gene_ratio(gene)
            crows.append([s.patient_id, s.sample_id, gene, _g(cn), _g(s.tumour_content), _g(ratio), _g(math.log2(ratio))])
    write_text_atomic(out / "truth" / "copy_number.tsv", _tsv(COPY_NUMBER_COLUMNS, crows))

    frows = []
    for s in plan.samples:
        res = results.get(s.sample_id)
        for i, (f, f5, f3) in enumerate(s.fusions):
            counts = res.fusion_counts[i] if res else ("", "", "")
            frows.append([s.patient_id, s.sample_id, s.sample_type, s.timepoint, f.spec_id, f.gene5, f.chrom5, f.pos5,
                          f.strand5, f.gene3, f.chrom3, f.pos3, f.strand3, _g(f5), _g(f3), *counts])
    write_text_atomic(out / "truth" / "fusions.tsv", _tsv(FUSION_COLUMNS, frows))

    mrows = []
    for p in plan.patients:
        plasma = sorted((s for s in plan.samples if s.patient_id == p.id and s.sample_type == "plasma"),
                        key=lambda s: s.day)
        for m in p.mechanisms:
            first = ""
            for s in plasma:
                vafs = {v.spec_id: vaf for v, vaf in s.variants}
                cn_ids = {c.id: c.gene for c in p.copy_number}
                fus = {f.spec_id: f3 for f, _, f3 in s.fusions}
                seen = any(vafs.get(e, 0) > 0 for e in m.evidence) or any(
                    e in cn_ids and abs(s.gene_ratio(cn_ids[e]) - 1) > 1e-9 for e in m.evidence) or any(
                    fus.get(e, 0) > 0 for e in m.evidence)
                if seen:
                    first = s.day
                    break
            mrows.append([p.id, p.drug_of_line(m.line), m.klass, m.subclass, m.gene, m.alteration, m.acquisition,
                          m.phase, first, scn.cite(m.citation), m.line])
    write_text_atomic(out / "truth" / "mechanisms.tsv", _tsv(MECHANISM_COLUMNS, mrows))


def write_run_config(out: Path, scn: Scenario, plan: CohortPlan, cohort: str, seed: int, fastq: bool,
                     scrna: dict[str, str] | None = None) -> None:
    """Write ``config/config.yaml``, ``config/patients.tsv`` and ``config/samples.tsv``.

    ``scrna`` maps sample IDs to their simulated single-cell file (the ``scrna`` column).
    """
    scrna = scrna or {}
    prows = [[p.id, p.tumour_type, p.drug, "0", p.progression_day, p.best_response,
              "true" if p.early_trial_after else "false"] for p in plan.patients]
    write_text_atomic(out / "config" / "patients.tsv", _tsv(PATIENT_COLUMNS, prows))
    hist = {p.id: p.histology for p in plan.patients}
    srows = []
    for s in plan.samples:
        bam = "" if fastq else f"bams/{s.sample_id}.bam"
        fq1 = f"fastq/{s.sample_id}_R1.fastq.gz" if fastq else ""
        fq2 = f"fastq/{s.sample_id}_R2.fastq.gz" if fastq else ""
        tissue = s.sample_type == "tissue"
        srows.append([s.patient_id, s.sample_id, s.sample_type, s.timepoint, s.day, bam, fq1, fq2,
                      scrna.get(s.sample_id, ""),
                      f"{s.tumour_content:g}" if tissue else "", hist[s.patient_id] if tissue else ""])
    write_text_atomic(out / "config" / "samples.tsv", _tsv(SAMPLE_COLUMNS, srows))
    trows = [[p.id, ln.line, ln.drug, ln.start_day, ln.progression_day, ln.best_response]
             for p in plan.patients for ln in p.lines]
    treatments = ""
    if trows:   # samples attach to lines by collection day (inputs.treatments); a cohort without lines has no sheet
        write_text_atomic(out / "config" / "treatments.tsv", _tsv(TREATMENT_COLUMNS, trows))
        treatments = "treatments: config/treatments.tsv\n"
    elif (out / "config" / "treatments.tsv").exists():
        (out / "config" / "treatments.tsv").unlink()
    extra = ""
    if scn.panel_extra:
        karyo = {c: i for i, c in enumerate(grch38_chromosomes())}
        bed = "".join(f"# {e.gene} {e.chrom}:{e.start + 1}-{e.end} {e.note}: {scn.cite(e.citation)}\n"
                      for e in scn.panel_extra)
        bed += "".join(f"{e.chrom}\t{e.start}\t{e.end}\t{e.gene}\n"
                       for e in sorted(scn.panel_extra, key=lambda e: (karyo.get(e.chrom, 99), e.start, e.end)))
        write_text_atomic(out / "config" / "panel_extra.bed", bed)
        extra = ("  # extra baits (tiled fusion-breakpoint introns) the simulated panel captured\n"
                 "  panel_extra_bed: config/panel_extra.bed\n")
    flags = f"--seed {seed} --cohort {cohort}" + (" --fastq" if fastq else "")
    text = (
        f"# Unlock atlas {cohort} cohort — written by `unlock-atlas simulate {flags}`\n"
        "patients: config/patients.tsv\n"
        "samples: config/samples.tsv\n"
        f"{treatments}"
        "data_dir: null\n"
        "reference:\n"
        "  build: GRCh38\n"
        '  fasta: "{data_dir}/reference_grch38/panel_genes.GRCh38.fa"\n'
        '  gtf: "{data_dir}/transcripts_grch38/panel_mane_select.GRCh38.gtf"\n'
        f"  panel_genes: [{', '.join(scn.panel_genes)}]\n"
        f"  panel_padding: {scn.panel_padding}\n"
        f"{extra}"
        "privacy:\n"
        "  pseudonymise: true\n"
    )
    write_text_atomic(out / "config" / "config.yaml", text)
