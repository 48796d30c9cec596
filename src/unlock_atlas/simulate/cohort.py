"""Scenario → per-sample plans: which alleles at which expected allele fraction, how deep.

Expected allele fractions follow the clonal model (a sample of tumour content ``tc`` —
tissue purity or plasma tumour fraction — is a mix of tumour cells and normal diploid cells)::

    VAF = tc * ccf * m / (tc * CN + (1 - tc) * 2)

with ``ccf`` the cancer-cell fraction, ``m`` the mutant copies and ``CN`` the tumour copy
number of the gene (2 unless amplified). Germline heterozygous = 0.5 and homozygous = 1.0 in
every sample (amplifications are taken as balanced); clonal haematopoiesis (CH) has VAF ``v``
in the white-cell normal, ``v * (1 - tc)`` in plasma (white-cell DNA diluted by tumour DNA) and
0 in tissue. A fusion's chimeric fraction at each breakpoint follows the same model with
``m = 1`` (one rearranged allele) and the copy number of that partner gene. Randomness (germline pool, genotypes,
passengers) is seeded from
``(seed, label)`` so the plan does not depend on thread count or sample order.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, Problem
from .alleles import Allele, left_normalise, protein_change
from .panelgenome import PanelGenome
from .scenario import SAMPLE_KEYS, FusionSpec, PatientSpec, Scenario

#: planted sites are kept at least this far apart (bp) so no two independent events overlap
#: on one allele (phase groups are the deliberate exception).
MIN_SEPARATION = 30
#: transitions are ~2x as common as transversions among human germline SNPs (Ti/Tv ~2.0-2.1).
_TRANSITION = {0: 2, 1: 3, 2: 0, 3: 1}


def derive_seed(seed: int, *labels: str) -> np.random.SeedSequence:
    """A SeedSequence from the run seed and string labels (stable across processes/runs)."""
    digest = hashlib.sha256("\x1f".join(labels).encode()).digest()
    key = tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))
    return np.random.SeedSequence(entropy=int(seed), spawn_key=key)


@dataclass(frozen=True)
class PlannedVariant:
    """A planted allele of one patient (germline, somatic or CH)."""

    patient_id: str
    allele: Allele
    gene: str
    hgvsp_short: str
    origin: str          # germline | somatic | chip
    role: str            # driver | resistance | passenger | germline | chip
    group: str           # alleles of one group are carried by the same fragments (cis)
    spec_id: str = ""

    @property
    def prefer(self) -> str:
        """Which fragments carry it first: tumour-derived (somatic), non-tumour (CH) or any."""
        return {"somatic": "tumour", "chip": "normal"}.get(self.origin, "any")


@dataclass(frozen=True)
class PlannedFusion:
    """A planted fusion of one patient, with the partner genes' strands and global breakpoints.

    ``g5`` / ``g3`` are the global indices of the 5' gene's last kept base and the 3' gene's
    first kept base; the product, read in transcript orientation, is the 5' gene up to ``g5``
    followed by the 3' gene from ``g3``.
    """

    patient_id: str
    spec_id: str
    gene5: str
    chrom5: str
    pos5: int
    strand5: str
    gene3: str
    chrom3: str
    pos3: int
    strand3: str
    g5: int
    g3: int


@dataclass
class SamplePlan:
    """Everything a worker needs to simulate one sample."""

    patient_id: str
    sample_id: str
    key: str
    sample_type: str
    timepoint: str
    day: int
    tumour_content: float
    depth: float
    read_length: int
    duplicate_fraction: float
    off_target_fraction: float
    gene_cn: dict[str, float]
    variants: list[tuple[PlannedVariant, float]] = field(default_factory=list)  # (variant, expected VAF)
    #: (fusion, chimeric fraction at the 5' breakpoint, at the 3' breakpoint)
    fusions: list[tuple[PlannedFusion, float, float]] = field(default_factory=list)

    def gene_ratio(self, gene: str) -> float:
        """Expected copy ratio (tc*CN + (1-tc)*2)/2: the relative DNA amount of the gene."""
        cn, tc = self.gene_cn.get(gene, 2.0), self.tumour_content
        return (tc * cn + (1 - tc) * 2) / 2

    def tumour_share(self, gene: str) -> float:
        """Fraction of the gene's DNA molecules that come from tumour cells."""
        cn, tc = self.gene_cn.get(gene, 2.0), self.tumour_content
        denom = tc * cn + (1 - tc) * 2
        return tc * cn / denom if denom > 0 else 0.0


@dataclass
class CohortPlan:
    patients: list[PatientSpec]
    samples: list[SamplePlan]
    variants: dict[str, list[PlannedVariant]]   # per patient


def clonal_vaf(tc: float, ccf: float, m: float, cn: float) -> float:
    """Expected VAF of the clonal model (module docstring)."""
    denom = tc * cn + (1 - tc) * 2
    return tc * ccf * m / denom if denom > 0 else 0.0


def _check_scenario_alleles(scn: Scenario, genome: PanelGenome, patients: list[PatientSpec]) -> None:
    problems = []
    for p in patients:
        for v in p.variants:
            where = f"patient {p.id} variant {v.id}"
            try:
                ref = genome.fetch(v.chrom, v.pos, len(v.ref))
            except ValueError:
                problems.append(Problem(str(scn.path), f"{where}: {v.chrom}:{v.pos} is outside the panel genes' regions",
                                        "plant variants inside the panel genes"))
                continue
            if ref != v.ref:
                problems.append(Problem(str(scn.path), f"{where}: ref {v.ref} but GRCh38 has {ref} at {v.chrom}:{v.pos}",
                                        "fix the position or the ref allele (+ strand, VCF style)"))
                continue
            norm = left_normalise(Allele(v.chrom, v.pos, v.ref, v.alt), genome.fetch)
            if norm != Allele(v.chrom, v.pos, v.ref, v.alt):
                problems.append(Problem(str(scn.path), f"{where}: not left-normalised",
                                        f"write it as {norm.pos} {norm.ref}>{norm.alt}"))
    if problems:
        raise InputError(problems, header="the simulation scenario's variants do not match the reference")


class _SitePicker:
    """Random sites inside targets, kept MIN_SEPARATION apart from every site taken so far."""

    def __init__(self, genome: PanelGenome, taken: list[int]) -> None:
        self.genome = genome
        self.taken = sorted(taken)
        lens = (genome.t_g1 - genome.t_g0).astype(float)
        self.p = lens / lens.sum()

    def free(self, a: int, b: int) -> bool:
        i = np.searchsorted(self.taken, a - MIN_SEPARATION)
        return not (i < len(self.taken) and self.taken[i] < b + MIN_SEPARATION)

    def take(self, a: int, b: int) -> None:
        for g in range(a, b):
            self.taken.insert(int(np.searchsorted(self.taken, g)), g)

    def pick(self, rng: np.random.Generator, width: int = 1) -> int:
        g = self.genome
        for _ in range(10000):
            t = rng.choice(len(self.p), p=self.p)
            if g.t_g1[t] - g.t_g0[t] <= width + 12:
                continue
            x = int(rng.integers(g.t_g0[t] + 6, g.t_g1[t] - width - 6))
            if np.all(g.seq[x - 1:x + width + 1] < 4) and self.free(x - 1, x + width + 1):
                return x
        raise RuntimeError("cannot place a new variant site in the panel targets")


def _chrom_pos(genome: PanelGenome, g: int) -> tuple[str, int]:
    ri, pos = genome.locate(np.array([g]))
    return genome.regions[int(ri[0])].chrom, int(pos[0])


def _snv_at(genome: PanelGenome, rng: np.random.Generator, g: int) -> Allele:
    ref = int(genome.seq[g])
    alt = _TRANSITION[ref] if rng.random() < 2 / 3 else int(rng.choice([b for b in range(4) if b not in (ref, _TRANSITION[ref])]))
    chrom, pos = _chrom_pos(genome, g)
    return Allele(chrom, pos, "ACGT"[ref], "ACGT"[alt])


def _name(genome: PanelGenome, allele: Allele, gene: str) -> str:
    return protein_change(genome.transcripts[gene], allele, genome.fetch) if gene in genome.transcripts else ""


def germline_pool(genome: PanelGenome, seed: int, n: int, taken: list[int]) -> list[Allele]:
    """The seeded pool of ``n`` germline SNP sites inside the targets (shared by all patients)."""
    rng = np.random.default_rng(derive_seed(seed, "germline-pool"))
    picker = _SitePicker(genome, taken)
    out = []
    for _ in range(n):
        g = picker.pick(rng)
        picker.take(g, g + 1)
        out.append(_snv_at(genome, rng, g))
    return sorted(out)


def _passengers(genome: PanelGenome, scn: Scenario, seed: int, pid: str,
                picker: _SitePicker) -> list[tuple[PlannedVariant, float]]:
    rng = np.random.default_rng(derive_seed(seed, pid, "passengers"))
    out = []
    for i in range(scn.passenger_snvs + scn.passenger_indels):
        if i < scn.passenger_snvs:
            g = picker.pick(rng)
            allele = _snv_at(genome, rng, g)
            picker.take(g, g + 1)
        else:
            while True:   # 1-3 bp deletion or insertion; retried if left-alignment moves it near a taken site
                k = int(rng.integers(1, 4))
                g = picker.pick(rng, width=k + 1)
                chrom, pos = _chrom_pos(genome, g)
                anchor = genome.fetch(chrom, pos, 1)
                if rng.random() < 0.5:   # deletion of k bases after the anchor at g
                    raw = Allele(chrom, pos, genome.fetch(chrom, pos, k + 1), anchor)
                else:                    # insertion of k random bases after the anchor
                    raw = Allele(chrom, pos, anchor, anchor + "".join("ACGT"[b] for b in rng.integers(0, 4, size=k)))
                allele = left_normalise(raw, genome.fetch)
                g0 = genome.to_global(allele.chrom, allele.pos)
                if picker.free(g0, g0 + len(allele.ref) + 1):
                    break
            picker.take(g0, g0 + len(allele.ref) + 1)
        gene = genome.gene_of_global(genome.to_global(allele.chrom, allele.pos))
        ccf = float(rng.choice(scn.passenger_ccf))
        pv = PlannedVariant(pid, allele, gene, _name(genome, allele, gene), "somatic", "passenger",
                            f"{pid}:passenger{i}", f"passenger{i}")
        out.append((pv, ccf))
    return out


def plan_cohort(scn: Scenario, genome: PanelGenome, cohort: str, seed: int) -> CohortPlan:
    """Expand the scenario into per-sample plans (see the module docstring for the model).

    Raises
    ------
    InputError
        If a scenario allele does not match the reference, is not left-normalised, or a
        requested VAF cannot be reached (ccf > 1) with the sample's tumour content.
    """
    patients = scn.cohort_patients(cohort)
    _check_scenario_alleles(scn, genome, patients)
    planned_fusions = _check_fusions(scn, genome, patients)
    depth = scn.cohort_depth(cohort)
    taken = sorted({genome.to_global(v.chrom, v.pos) + k for p in scn.patients.values() for v in p.variants
                    for k in range(len(v.ref))})
    pool = germline_pool(genome, seed, scn.germline_sites, taken)
    picker = _SitePicker(genome, taken + [genome.to_global(a.chrom, a.pos) for a in pool])
    problems: list[Problem] = []
    samples: list[SamplePlan] = []
    variants: dict[str, list[PlannedVariant]] = {}
    for p in patients:
        grng = np.random.default_rng(derive_seed(seed, p.id, "germline"))
        gts = grng.binomial(2, scn.population_af, size=len(pool))
        germ = [(PlannedVariant(p.id, a, genome.gene_of_global(genome.to_global(a.chrom, a.pos)),
                                _name(genome, a, genome.gene_of_global(genome.to_global(a.chrom, a.pos))),
                                "germline", "germline", f"{p.id}:germline{i}", f"germline{i}"), int(gt))
                for i, (a, gt) in enumerate(zip(pool, gts)) if gt > 0]
        scen = [PlannedVariant(p.id, Allele(v.chrom, v.pos, v.ref, v.alt), v.gene, v.hgvsp_short,
                               v.origin, v.role, f"{p.id}:{v.phase_group or v.id}", v.id) for v in p.variants]
        passengers = _passengers(genome, scn, seed, p.id, picker)
        variants[p.id] = sorted([g for g, _ in germ] + scen + [pv for pv, _ in passengers],
                                key=lambda v: (genome.to_global(v.allele.chrom, v.allele.pos), v.allele.alt))
        specs = {v.id: v for v in p.variants}
        for key in SAMPLE_KEYS:
            if key not in p.samples:
                continue
            s = p.samples[key]
            typ = s.sample_type
            gene_cn = {cn.gene: cn.cn[key] for cn in p.copy_number if key in cn.cn}
            plan = SamplePlan(p.id, p.sample_id(key), key, typ, s.timepoint, s.day, s.tumour_content, depth[typ],
                              scn.read_length[typ], scn.duplicate_fraction[typ], scn.off_target_fraction, gene_cn)
            tc = s.tumour_content
            for gv, gt in germ:
                plan.variants.append((gv, 0.5 if gt == 1 else 1.0))
            for pv in scen:
                v = specs[pv.spec_id]
                if v.origin == "chip":
                    vaf = {"normal": v.vaf_normal, "plasma": v.vaf_normal * (1 - tc), "tissue": 0.0}[typ]
                else:
                    cn = gene_cn.get(v.gene, 2.0)
                    if key in v.vaf:
                        vaf = v.vaf[key]
                        ccf = vaf * (tc * cn + (1 - tc) * 2) / (tc * v.mutant_copies) if tc > 0 else math.inf
                        if ccf > 1 + 1e-9:
                            problems.append(Problem(str(scn.path), f"patient {p.id} variant {v.id}: VAF {vaf} in {key} "
                                                    f"needs ccf {ccf:.3g} > 1 at tumour content {tc}",
                                                    "lower the VAF or raise the sample's purity/tf"))
                    else:
                        # a tumour cannot carry more mutant copies than it has (0 in a homozygous deletion)
                        vaf = clonal_vaf(tc, v.ccf.get(key, 0.0), min(v.mutant_copies, cn), cn)
                plan.variants.append((pv, vaf))
            for pv, ccf in passengers:
                pcn = gene_cn.get(pv.gene, 2.0)
                plan.variants.append((pv, 0.0 if typ == "normal" else clonal_vaf(tc, ccf, min(1, pcn), pcn)))
            for pf in planned_fusions[p.id]:
                f = next(x for x in p.fusions if x.id == pf.spec_id)
                plan.fusions.append((pf, *_fusion_fractions(scn, p.id, f, key, tc, gene_cn, pf, problems)))
            _check_groups(scn, plan, problems)
            samples.append(plan)
    if problems:
        raise InputError(problems, header="the simulation scenario cannot be planted")
    return CohortPlan(patients, samples, variants)


def _fusion_fractions(scn: Scenario, pid: str, f: FusionSpec, key: str, tc: float, gene_cn: dict[str, float],
                      pf: PlannedFusion, problems: list[Problem]) -> tuple[float, float]:
    """Chimeric fraction of the molecules spanning the 5' and the 3' breakpoint (clonal model, m = 1)."""
    cn5, cn3 = gene_cn.get(pf.gene5, 2.0), gene_cn.get(pf.gene3, 2.0)
    if key in f.vaf:
        ccf = f.vaf[key] * (tc * cn3 + (1 - tc) * 2) / tc if tc > 0 else math.inf
        if ccf > 1 + 1e-9:
            problems.append(Problem(str(scn.path), f"patient {pid} fusion {f.id}: fraction {f.vaf[key]} in {key} "
                                    f"needs ccf {ccf:.3g} > 1 at tumour content {tc}",
                                    "lower the vaf or raise the sample's purity/tf"))
    else:
        ccf = f.ccf.get(key, 0.0)
    ccf = min(ccf, 1.0)
    return clonal_vaf(tc, ccf, min(1, cn5), cn5), clonal_vaf(tc, ccf, min(1, cn3), cn3)


def _check_fusions(scn: Scenario, genome: PanelGenome, patients: list[PatientSpec]) -> dict[str, list[PlannedFusion]]:
    """Fusion breakpoints must be intronic positions of panel genes with sequence (file, patient, fusion named)."""
    problems, out = [], {}
    for p in patients:
        out[p.id] = []
        for f in p.fusions:
            where = f"patient {p.id} fusion {f.id}"
            ok = True
            for side, gene, chrom, pos in (("5'", f.gene5, f.chrom5, f.pos5), ("3'", f.gene3, f.chrom3, f.pos3)):
                tx = genome.transcripts.get(gene)
                if tx is None or genome.region_index(chrom, pos) < 0:
                    problems.append(Problem(str(scn.path), f"{where}: {side} partner {gene} at {chrom}:{pos} is not in "
                                            "a panel gene region with sequence",
                                            "use panel genes; a partner without sequence can be stood in for by a "
                                            "gene region of the shared data"))
                    ok = False
                elif tx.chrom != chrom or not tx.start < pos < tx.end or any(s <= pos <= e for s, e in tx.exons):
                    problems.append(Problem(str(scn.path), f"{where}: {side} breakpoint {chrom}:{pos} is not in an "
                                            f"intron of {gene} ({tx.transcript_id})",
                                            "give an intronic position inside the gene's MANE transcript"))
                    ok = False
            if ok:
                t5, t3 = genome.transcripts[f.gene5], genome.transcripts[f.gene3]
                out[p.id].append(PlannedFusion(p.id, f.id, f.gene5, f.chrom5, f.pos5, t5.strand, f.gene3, f.chrom3,
                                               f.pos3, t3.strand, genome.to_global(f.chrom5, f.pos5),
                                               genome.to_global(f.chrom3, f.pos3)))
    if problems:
        raise InputError(problems, header="the simulation scenario's fusions do not fit the reference")
    return out


def _check_groups(scn: Scenario, plan: SamplePlan, problems: list[Problem]) -> None:
    by_group: dict[str, set[float]] = {}
    for v, vaf in plan.variants:
        by_group.setdefault(v.group, set()).add(round(vaf, 12))
    for grp, vafs in by_group.items():
        if len(vafs) > 1:
            problems.append(Problem(str(scn.path), f"phase group {grp} has different VAFs in {plan.sample_id}: {sorted(vafs)}",
                                    "alleles in cis must be planted at the same ccf/vaf in every sample"))
