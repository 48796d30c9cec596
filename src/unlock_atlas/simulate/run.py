"""Run the simulator: plan the cohort, simulate samples in parallel, write sheets and truth.

Each sample draws from its own random stream seeded by ``(seed, sample_id)`` (numpy
``SeedSequence``), so the output is identical whatever ``threads`` is and in whatever order
the workers finish. Samples run in a process pool (fork), largest first for load balance.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..paths import resolve_data_dir
from .bamout import FastqSink, SamSink, remove_scratch, scratch_dir
from .cohort import CohortPlan, SamplePlan, derive_seed, plan_cohort
from .fragments import allele_span, choose_carriers, draw_fragments
from .fusion import chimera_spans, choose_chimeras, detectable, fusion_reads
from .panelgenome import PanelGenome
from .reads import molecule_batch, vector_batch
from .scenario import load_scenario
from .scrna import scrna_path, scrna_samples, write_scrna
from .truth import write_run_config, write_truth

logger = logging.getLogger(__name__)

#: read pairs per vectorised batch: ~2 x 65k x 150 B matrices keep a worker under ~1 GB.
CHUNK_PAIRS = 65_536
_GENOME: PanelGenome | None = None


@dataclass
class SampleResult:
    """What one simulated sample reports back for the truth tables and the log."""

    sample_id: str
    read_pairs: int
    seconds: float
    markdup: dict[str, int] = field(default_factory=dict)
    planted_alt: list[int] = field(default_factory=list)      # per plan.variants entry
    covering: list[int] = field(default_factory=list)
    #: per plan.fusions entry: (chimeric unique molecules, of them detectable, chimeric read pairs)
    fusion_counts: list[tuple[int, int, int]] = field(default_factory=list)


def _init_worker(genome: PanelGenome) -> None:
    global _GENOME
    _GENOME = genome


def sample_paths(out: Path, sample_id: str, fastq: bool) -> dict[str, Path]:
    """Output paths of one sample under the run directory ``out``."""
    if fastq:
        return {"fastq_1": out / "fastq" / f"{sample_id}_R1.fastq.gz", "fastq_2": out / "fastq" / f"{sample_id}_R2.fastq.gz"}
    return {"bam": out / "bams" / f"{sample_id}.bam"}


def _substitutions(genome: PanelGenome, plan: SamplePlan, carriers: dict[int, np.ndarray],
                   skip: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    us, gs, bs = [], [], []
    for i, (v, _) in enumerate(plan.variants):
        if v.allele.kind == "indel":
            continue
        c = carriers[i][~skip[carriers[i]]]
        g = genome.to_global(v.allele.chrom, v.allele.pos)
        for k, base in enumerate(v.allele.alt):
            us.append(c)
            gs.append(np.full(len(c), g + k, dtype=np.int64))
            bs.append(np.full(len(c), "ACGT".index(base), dtype=np.uint8))
    if not us:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8)
    u, g, b = np.concatenate(us), np.concatenate(gs), np.concatenate(bs)
    order = np.argsort(u, kind="stable")
    return u[order], g[order], b[order]


def simulate_sample(plan: SamplePlan, seed: int, out: Path, fastq: bool, command_line: str) -> SampleResult:
    """Simulate one sample's reads and write its BAM (or FASTQ pair); return truth counts."""
    genome = _GENOME
    assert genome is not None, "worker not initialised with the panel genome"
    t0 = time.monotonic()
    ss = derive_seed(seed, plan.sample_id)
    # a fifth stream for fusions: spawn(5) gives the same first four children as spawn(4)
    r_frag, r_plant, r_reads, r_mol, r_fus = (np.random.default_rng(s) for s in ss.spawn(5))
    frags = draw_fragments(genome, plan, r_frag)
    carriers = choose_carriers(genome, frags, plan, r_plant)
    indel_mol = np.zeros(frags.n_unique, dtype=bool)
    for i, (v, _) in enumerate(plan.variants):
        if v.allele.kind == "indel":
            indel_mol[carriers[i]] = True
    alleles_of: dict[int, list] = {int(u): [] for u in np.flatnonzero(indel_mol)}
    for i, (v, _) in enumerate(plan.variants):
        for u in carriers[i][indel_mol[carriers[i]]].tolist():
            alleles_of[u].append(v)
    subst = _substitutions(genome, plan, carriers, indel_mol)
    chim = {c.molecule: c for c in choose_chimeras(genome, frags, plan, r_fus, indel_mol)} if plan.fusions else {}
    chim_mol = np.zeros(frags.n_unique, dtype=bool)
    chim_mol[list(chim)] = True
    py_row = indel_mol[frags.src]
    fus_row = chim_mol[frags.src]
    vec_rows, py_rows = np.flatnonzero(~py_row & ~fus_row), np.flatnonzero(py_row)
    fus_rows = np.flatnonzero(fus_row)
    paths = sample_paths(out, plan.sample_id, fastq)
    work = scratch_dir(out / ("fastq" if fastq else "bams"), plan.sample_id)
    chroms = [r.chrom for r in genome.regions]
    sink = (FastqSink(paths["fastq_1"], paths["fastq_2"], plan.sample_id) if fastq
            else SamSink(work, plan.sample_id, command_line, chroms))
    try:
        R = plan.read_length
        for a in range(0, len(vec_rows), CHUNK_PAIRS):
            sink.write(vector_batch(genome, frags, vec_rows[a:a + CHUNK_PAIRS], R, r_reads, subst))
        spans: dict[int, tuple[int, int, int, int]] = {}
        if len(py_rows):
            batch, spans = molecule_batch(genome, frags, py_rows, R, r_mol, alleles_of)
            sink.write(batch)
        if len(fus_rows):
            sink.write_raw(*fusion_reads(genome, frags, fus_rows, chim, plan, R, r_fus, subst, plan.sample_id))
            spans.update(chimera_spans(frags, chim, R))
        counts = sink.finish() if fastq else sink.finish(paths["bam"])
    except BaseException:
        sink.abort()
        raise
    finally:
        remove_scratch(work)
    result = SampleResult(plan.sample_id, frags.n_pairs, 0.0, counts or {})
    _truth_counts(genome, plan, frags, carriers, spans, result)
    for fi in range(len(plan.fusions)):
        mine = [c for c in chim.values() if c.fusion == fi]
        result.fusion_counts.append((len(mine), sum(detectable(c) for c in mine),
                                     int(np.count_nonzero(np.isin(frags.src[fus_rows], [c.molecule for c in mine])))))
    result.seconds = time.monotonic() - t0
    dup = result.markdup.get("duplicates")
    logger.info("%s: %d reads%s in %.1f s", plan.sample_id, 2 * frags.n_pairs,
                f" ({100 * dup / max(1, result.markdup.get('reads', 1)):.1f} % duplicates)" if dup is not None else "",
                result.seconds)
    return result


def _truth_counts(genome: PanelGenome, plan: SamplePlan, frags, carriers: dict[int, np.ndarray],
                  spans: dict[int, tuple[int, int, int, int]], result: SampleResult) -> None:
    """Unique molecules whose reads cover each allele, and how many of those carry it.

    A read covers a substitution when it spans all its reference bases, and an indel when it
    spans the anchor and the first base after the reference allele (so the event is visible).
    """
    rp = np.minimum(plan.read_length, frags.length)
    sf, ef = frags.g0.copy(), frags.g0 + rp
    sr, er = frags.g0 + frags.length - rp, frags.g0 + frags.length
    for u, (a, b, c, d) in spans.items():
        sf[u], ef[u], sr[u], er[u] = a, b, c, d
    for i, (v, _) in enumerate(plan.variants):
        a, need = allele_span(genome, v)
        cov = ((sf <= a) & (ef >= need)) | ((sr <= a) & (er >= need))
        result.covering.append(int(np.count_nonzero(cov)))
        result.planted_alt.append(int(np.count_nonzero(cov[carriers[i]])))


def _run(task: tuple[SamplePlan, int, Path, bool, str]) -> SampleResult:
    return simulate_sample(*task)


def simulate_cohort(out: str | Path, seed: int, cohort: str = "demo", fastq: bool = False, threads: int = 2,
                    data_dir: str | Path | None = None, scenario: str | Path | None = None,
                    only_samples: list[str] | None = None) -> CohortPlan:
    """Simulate a cohort into the run directory ``out`` (config, BAMs or FASTQs, truth).

    Parameters
    ----------
    out
        Run directory; ``config/``, ``bams/`` (or ``fastq/``) and ``truth/`` are written in it.
    seed
        Master seed: same seed → identical truth tables and read content.
    cohort
        ``demo`` (6 patients, 36 samples) or ``small`` (2 patients, shallower).
    fastq
        Write ``fastq/<sample>_R1/_R2.fastq.gz`` instead of BAMs (the ``align`` stage input).
    threads
        Worker processes (samples run in parallel; output does not depend on it).
    data_dir
        Shared GRCh38 data directory (default: ``$UNLOCK_ATLAS_DATA`` → ``../shared/data``).
    scenario
        Scenario YAML (default ``resources/demo_cohort.yaml``).
    only_samples
        Simulate reads for these sample ids only (sheets and truth still list the whole
        cohort; used by tests and to regenerate one sample).
    """
    out = Path(out)
    data = resolve_data_dir(data_dir)
    scn = load_scenario(scenario)
    t0 = time.monotonic()
    genome = PanelGenome.for_scenario(data, scn)
    plan = plan_cohort(scn, genome, cohort, seed)
    command_line = f"unlock-atlas simulate --cohort {cohort} --seed {seed}" + (" --fastq" if fastq else "")
    todo = [s for s in plan.samples if only_samples is None or s.sample_id in only_samples]
    todo.sort(key=lambda s: -s.depth / s.read_length)
    tasks = [(s, seed, out, fastq, command_line) for s in todo]
    logger.info("simulating %d samples of cohort %r (seed %d) with %d worker(s) into %s",
                len(tasks), cohort, seed, threads, out)
    results: dict[str, SampleResult] = {}
    if threads <= 1 or len(tasks) <= 1:
        _init_worker(genome)
        for t in tasks:
            r = _run(t)
            results[r.sample_id] = r
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(min(threads, len(tasks)), initializer=_init_worker, initargs=(genome,)) as pool:
            for r in pool.imap_unordered(_run, tasks):
                results[r.sample_id] = r
    write_truth(out, scn, genome, plan, results)
    scrna = {s.sample_id: scrna_path(s.sample_id) for s in scrna_samples(scn, plan, cohort)}
    if only_samples is None or any(s in scrna for s in only_samples):
        scrna = write_scrna(out, scn, plan, cohort, seed) or scrna
    write_run_config(out, scn, plan, cohort, seed, fastq, scrna)
    total = sum(r.read_pairs for r in results.values())
    logger.info("done: %d samples, %d reads in %.1f s", len(results), 2 * total, time.monotonic() - t0)
    return plan
