"""Tests of the demo-cohort simulator (``unlock-atlas simulate``).

The small cohort is simulated once per session. Expected values come from independent truths:
what the simulator planted (truth tables), the GRCh38 FASTA read through pysam + RegionLift,
the MANE GTF, the GRCh38 chromosome lengths, and samtools run through pysam.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pysam
import pytest
import yaml
from scipy.stats import binom

from unlock_atlas.cli import main
from unlock_atlas.errors import InputError
from unlock_atlas.reference.genome import RegionLift
from unlock_atlas.reference.panel import add_extra_targets, panel_from_gtf, read_bed
from unlock_atlas.reference.transcripts import mane_by_gene

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "resources" / "demo_cohort.yaml"
SEED = 7
#: Allowance for sequencing errors in allele counts. Reads carry Illumina-binned qualities
#: (>= Q27 on almost all bases, i.e. per-base error <= 2e-3, and a *specific* wrong base at
#: most a third of that), so at most ~0.2 % of fragments can show a given wrong allele.
SEQ_ERROR = 0.002
_CODON = {a + b + c: "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"[16 * i + 4 * j + k]
          for i, a in enumerate("TCAG") for j, b in enumerate("TCAG") for k, c in enumerate("TCAG")}


def _tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture(scope="session")
def sim_small(tmp_path_factory, shared_data: Path) -> Path:
    """The small cohort through the CLI with --cache (the same cache entry as conftest ``small_sim``)."""
    out = tmp_path_factory.mktemp("sim") / "run"
    rc = main(["simulate", "--out", str(out), "--seed", str(SEED), "--cohort", "small", "--threads", "2",
               "--data-dir", str(shared_data), "--cache"])
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def subset_run(tmp_path_factory, shared_data: Path) -> Path:
    """Two samples of the same cohort/seed re-simulated alone, single-threaded (never from the cache)."""
    from unlock_atlas.simulate import simulate_cohort

    out = tmp_path_factory.mktemp("sim_subset") / "run"
    simulate_cohort(out, SEED, cohort="small", threads=1, data_dir=shared_data,
                    only_samples=["UNL001-N", "UNL002-N"])
    return out


@pytest.fixture(scope="session")
def demo_subset(tmp_path_factory, shared_data: Path) -> Path:
    """Demo-cohort samples with the ALK compound (UNL006-T-PD) and the CH normal (UNL004-N)."""
    from unlock_atlas.simulate.cache import cached_simulation

    out = tmp_path_factory.mktemp("sim_demo") / "run"
    cached_simulation(out, SEED, cohort="demo", threads=2, data_dir=shared_data,
                      only_samples=["UNL006-T-PD", "UNL004-N"])
    return out


@pytest.fixture(scope="session")
def lift_fasta(region_fasta: Path):
    return RegionLift.from_fasta(region_fasta), pysam.FastaFile(str(region_fasta))


def _ref(lift_fasta, chrom: str, pos: int, n: int = 1) -> str:
    lift, fa = lift_fasta
    contig, local = lift.to_local(chrom, pos)
    return fa.fetch(contig, local - 1, local - 1 + n).upper()


# --- independent fragment-level allele counting -----------------------------------------------
def _observe(read: pysam.AlignedSegment, pos0: int, ref: str, alt: str) -> str | None:
    """'alt' / 'ref' / None for one read at a VCF allele (0-based ``pos0``)."""
    m = {r: q for q, r in read.get_aligned_pairs(matches_only=True)}
    seq = read.query_sequence
    if len(ref) == len(alt):
        qs = [m.get(pos0 + k) for k in range(len(ref))]
        if any(q is None for q in qs) or qs[-1] - qs[0] != len(ref) - 1:
            return None
        bases = "".join(seq[q] for q in qs)
        return "alt" if bases == alt else "ref" if bases == ref else None
    qa, qn = m.get(pos0), m.get(pos0 + len(ref))
    if qa is None or qn is None:
        return None
    inner = [m.get(pos0 + k) for k in range(1, len(ref))]
    if qn - qa == 1 + max(0, len(alt) - len(ref)) and all(q is None for q in inner):
        if len(alt) < len(ref) or seq[qa + 1:qn] == alt[1:]:
            return "alt"
    if inner and all(q == qa + k + 1 for k, q in enumerate(inner)) and qn == qa + len(ref):
        return "ref"
    if not inner and qn == qa + 1:
        return "ref"
    return None


def count_fragments(bam: pysam.AlignmentFile, chrom: str, pos: int, ref: str, alt: str) -> tuple[int, int, list, list]:
    """(alt, ref) fragment counts at a site, skipping duplicates/secondary/supplementary and
    fragments whose mates disagree; also the fragment lengths of each class."""
    obs: dict[str, list[str]] = defaultdict(list)
    tlen: dict[str, int] = {}
    for r in bam.fetch(chrom, pos - 2, pos + len(ref) + 1):
        if r.is_duplicate or r.is_secondary or r.is_supplementary or r.is_unmapped:
            continue
        o = _observe(r, pos - 1, ref, alt)
        if o:
            obs[r.query_name].append(o)
            tlen[r.query_name] = abs(r.template_length)
    alt_n = [q for q, o in obs.items() if set(o) == {"alt"}]
    ref_n = [q for q, o in obs.items() if set(o) == {"ref"}]
    return len(alt_n), len(ref_n), [tlen[q] for q in alt_n], [tlen[q] for q in ref_n]


def _check_vafs(run: Path, samples: set[str] | None = None) -> int:
    rows = [r for r in _tsv(run / "truth" / "variants.tsv") if samples is None or r["sample_id"] in samples]
    alpha = 0.001 / len(rows)   # Bonferroni over every (variant, sample) check
    bams: dict[str, pysam.AlignmentFile] = {}
    failures = []
    for r in rows:
        bam = bams.setdefault(r["sample_id"], pysam.AlignmentFile(str(run / "bams" / f"{r['sample_id']}.bam")))
        a, n_ref, _, _ = count_fragments(bam, r["chrom"], int(r["pos"]), r["ref"], r["alt"])
        n = a + n_ref
        vaf = float(r["expected_vaf"])
        assert n >= 10, f"site {r['chrom']}:{r['pos']} barely covered in {r['sample_id']} ({n})"
        if vaf == 0 and r["kind"] == "indel":
            ok = a == 0   # the error model has no indels: an absent indel must be fully absent
        else:
            p = vaf * (1 - SEQ_ERROR) + (1 - vaf) * SEQ_ERROR
            lo, hi = binom.interval(1 - alpha, n, p)
            ok = lo <= a <= hi
        if not ok:
            failures.append(f"{r['sample_id']} {r['chrom']}:{r['pos']} {r['ref']}>{r['alt']} ({r['role']}): "
                            f"{a}/{n} alt fragments, expected VAF {vaf}")
    assert not failures, "\n".join(failures)
    return len(rows)


def _run_panel(run: Path, mane_gtf: Path) -> list:
    """The run's panel as prepare-reference builds it: MANE CDS ± 20 of the configured genes plus
    the extra baits the simulator wrote to config/panel_extra.bed."""
    genes = yaml.safe_load((run / "config" / "config.yaml").read_text())["reference"]["panel_genes"]
    extra = run / "config" / "panel_extra.bed"
    return add_extra_targets(panel_from_gtf(mane_gtf, genes, 20), read_bed(extra) if extra.is_file() else [])


# --- tests ---------------------------------------------------------------------------------------
def test_sheets_and_config(sim_small: Path) -> None:
    samples = (sim_small / "config" / "samples.tsv").read_bytes()
    patients = (sim_small / "config" / "patients.tsv").read_bytes()
    assert b"\r" not in samples + patients
    assert samples.split(b"\n")[0].decode().split("\t") == [
        "patient_id", "sample_id", "sample_type", "timepoint", "collection_day", "bam", "fastq_1", "fastq_2",
        "scrna", "purity", "histology"]
    assert patients.split(b"\n")[0].decode().split("\t") == [
        "patient_id", "tumour_type", "drug", "treatment_start", "progression_day", "best_response",
        "early_trial_after"]
    srows = _tsv(sim_small / "config" / "samples.tsv")
    assert [r["sample_id"] for r in srows if r["patient_id"] == "UNL001"] == [
        "UNL001-N", "UNL001-T-BL", "UNL001-T-PD", "UNL001-P-BL", "UNL001-P-OT", "UNL001-P-PD"]
    for r in srows:
        assert not Path(r["bam"]).is_absolute() and (sim_small / r["bam"]).is_file()
        assert (r["timepoint"] == "") == (r["sample_type"] == "normal")
        assert (r["purity"] != "") == (r["sample_type"] == "tissue")
    ot = [r for r in srows if r["timepoint"] == "on_treatment"]
    assert all(56 <= int(r["collection_day"]) <= 90 for r in ot)
    prow = {r["patient_id"]: r for r in _tsv(sim_small / "config" / "patients.tsv")}
    assert set(prow) == {"UNL001", "UNL002"} and prow["UNL001"]["drug"] == "osimertinib"
    pd_days = {r["patient_id"]: int(r["collection_day"]) for r in srows if r["timepoint"] == "progression"}
    assert all(pd_days[p] == int(prow[p]["progression_day"]) for p in prow)
    cfg_text = (sim_small / "config" / "config.yaml").read_text()
    assert cfg_text.startswith(f"# Unlock atlas small cohort — written by `unlock-atlas simulate --seed {SEED} --cohort small`")
    cfg = yaml.safe_load(cfg_text)
    assert list(cfg) == ["patients", "samples", "data_dir", "reference", "privacy"]
    assert cfg["data_dir"] is None and cfg["privacy"] == {"pseudonymise": True}
    assert cfg["reference"]["fasta"] == "{data_dir}/reference_grch38/panel_genes.GRCh38.fa"
    assert cfg["reference"]["panel_genes"][:3] == ["EGFR", "KRAS", "BRAF"] and cfg["reference"]["panel_padding"] == 20


def test_bams_valid_with_grch38_header(sim_small: Path) -> None:
    bams = sorted((sim_small / "bams").glob("*.bam"))
    assert len(bams) == 12
    pysam.samtools.quickcheck(*map(str, bams))   # raises on failure
    for b in bams:
        assert Path(str(b) + ".bai").is_file()
        with pysam.AlignmentFile(str(b)) as fh:
            h = fh.header.to_dict()
            assert h["HD"]["SO"] == "coordinate"
            sq = {s["SN"]: s["LN"] for s in h["SQ"]}
            assert sq["chr7"] == 159_345_973 and sq["chr1"] == 248_956_422 and len(sq) == 25
            assert [s["SN"] for s in h["SQ"]][:3] == ["chr1", "chr2", "chr3"]
            assert h["RG"][0]["SM"] == b.name[:-4] and h["RG"][0]["PL"] == "ILLUMINA"
            assert any(f"seed {SEED}" in pg.get("CL", "") for pg in h["PG"])
            r = next(fh.fetch("chr7", 55191800, 55191900))
            assert r.mapping_quality == 60 and r.flag & 0x3 == 0x3 and r.has_tag("MC") and r.has_tag("RG")


def test_planted_vafs_match_expected(sim_small: Path) -> None:
    n = _check_vafs(sim_small)
    assert n > 200


def test_demo_compound_in_cis_and_ch(demo_subset: Path) -> None:
    _check_vafs(demo_subset, {"UNL006-T-PD", "UNL004-N"})
    rows = _tsv(demo_subset / "truth" / "variants.tsv")
    ch = [r for r in rows if r["sample_id"] == "UNL004-N" and r["origin"] == "chip"]
    assert len(ch) == 1 and ch[0]["gene"] == "TP53" and float(ch[0]["expected_vaf"]) == pytest.approx(0.04)
    # G1202R (chr2:29220747 C>T) and L1196M (chr2:29220765 G>T) on the same fragments
    bam = pysam.AlignmentFile(str(demo_subset / "bams" / "UNL006-T-PD.bam"))
    state: dict[str, dict[int, str]] = defaultdict(dict)
    for r in bam.fetch("chr2", 29220740, 29220770):
        if r.is_duplicate:
            continue
        for pos, ref, alt in ((29220747, "C", "T"), (29220765, "G", "T")):
            o = _observe(r, pos - 1, ref, alt)
            if o:
                state[r.query_name][pos] = o
    both = [s for s in state.values() if len(s) == 2]
    alt_alt = sum(s[29220747] == "alt" and s[29220765] == "alt" for s in both)
    mixed = sum(s[29220747] != s[29220765] for s in both)
    assert alt_alt >= 50 and mixed <= 2, (alt_alt, mixed)


def test_duplicates_fragment_lengths_and_on_target(sim_small: Path, mane_gtf: Path, tmp_path: Path) -> None:
    configured = {"plasma": 0.15, "tissue": 0.08, "normal": 0.08}
    types = {r["sample_id"]: r["sample_type"] for r in _tsv(sim_small / "config" / "samples.tsv")}
    bed = tmp_path / "panel.bed"
    panel = _run_panel(sim_small, mane_gtf)
    bed.write_text("".join(f"{i.chrom}\t{i.start}\t{i.end}\n" for i in panel))
    for sid in ("UNL001-P-BL", "UNL002-T-BL", "UNL001-N"):
        b = str(sim_small / "bams" / f"{sid}.bam")
        total = int(pysam.samtools.view("-c", b))
        dups = int(pysam.samtools.view("-c", "-f", "1024", b))
        # markdup finds the planted PCR copies plus "natural" duplicates (distinct molecules with
        # identical ends), which add ~1-3 points at these depths
        assert configured[types[sid]] - 0.01 <= dups / total <= configured[types[sid]] + 0.04, (sid, dups / total)
        on_reads = int(pysam.samtools.view("-c", "-F", "1024", "-L", str(bed), b)) / (total - dups)
        assert 0.65 <= on_reads <= 0.9, (sid, on_reads)   # long tissue fragments: a read can miss the bait
        frags = defaultdict(list)
        with pysam.AlignmentFile(b) as fh:
            for r in fh.fetch(until_eof=True):
                if r.template_length > 0 and not r.is_duplicate:
                    frags[r.reference_name].append((r.reference_start, r.reference_start + r.template_length))
        tl = np.array([e - s for v in frags.values() for s, e in v])
        on = 0
        for chrom, iv in frags.items():
            f = np.array(iv)
            t = np.array([(i.start, i.end) for i in panel if i.chrom == chrom])
            k = np.searchsorted(t[:, 0], f[:, 1], "left") - 1   # last target starting before the fragment end
            on += int(np.count_nonzero((k >= 0) & (t[np.maximum(k, 0), 1] > f[:, 0])))
        # ~17 % of fragments are drawn off target (configured), the rest overlap a target
        assert 0.78 <= on / len(tl) <= 0.88, (sid, on / len(tl))
        if types[sid] == "plasma":
            assert 160 <= np.median(tl) <= 170 and 160 <= np.bincount(tl).argmax() <= 172
        else:
            assert 235 <= np.median(tl) <= 265


def test_tumour_fragments_are_shorter_in_plasma(sim_small: Path) -> None:
    rows = [r for r in _tsv(sim_small / "truth" / "variants.tsv")
            if r["sample_id"] == "UNL001-P-BL" and r["origin"] == "somatic" and float(r["expected_vaf"]) > 0.02]
    bam = pysam.AlignmentFile(str(sim_small / "bams" / "UNL001-P-BL.bam"))
    alt_len, ref_len = [], []
    for r in rows:
        _, _, a, b = count_fragments(bam, r["chrom"], int(r["pos"]), r["ref"], r["alt"])
        alt_len += a
        ref_len += b
    assert len(alt_len) >= 60
    assert np.median(alt_len) < np.median(ref_len) - 10   # Mouliere 2018: ctDNA ~145 vs ~167 bp


def test_met_amplification_depth_ratio(sim_small: Path, mane_gtf: Path) -> None:
    genes = yaml.safe_load((sim_small / "config" / "config.yaml").read_text())["reference"]["panel_genes"]
    targets = panel_from_gtf(mane_gtf, genes, 20)
    cn = {(r["sample_id"], r["gene"]): float(r["expected_copy_ratio"]) for r in _tsv(sim_small / "truth" / "copy_number.tsv")}

    def met_fraction(sid: str) -> float:
        with pysam.AlignmentFile(str(sim_small / "bams" / f"{sid}.bam")) as fh:
            counts = defaultdict(int)
            for t in targets:
                counts[t.name == "MET"] += fh.count(t.chrom, t.start, t.end, read_callback="all")
        return counts[True] / counts[False]

    base = met_fraction("UNL002-T-BL")   # same capture biases, no amplification: the "normal"
    for sid in ("UNL002-T-PD", "UNL002-P-PD"):
        ratio = met_fraction(sid) / base
        assert cn[(sid, "MET")] > 1.3
        assert abs(ratio / cn[(sid, "MET")] - 1) <= 0.30, (sid, ratio, cn[(sid, "MET")])
    assert abs(met_fraction("UNL002-P-OT") / base - 1) <= 0.15


def test_ref_bases_match_grch38(sim_small: Path, lift_fasta, mane_gtf: Path) -> None:
    rows = _tsv(sim_small / "truth" / "variants.tsv")
    for r in rows:
        assert _ref(lift_fasta, r["chrom"], int(r["pos"]), len(r["ref"])) == r["ref"], r
        if len(r["ref"]) != len(r["alt"]):   # left-normalised: anchor shared, cannot shift left
            assert r["ref"][0] == r["alt"][0]
            varying = r["ref"][1:] or r["alt"][1:]
            assert varying[-1] != r["ref"][0], r
    mane = mane_by_gene(mane_gtf)
    scn = yaml.safe_load(SCENARIO.read_text())
    comp = str.maketrans("ACGT", "TGCA")
    n = 0
    for p in scn["patients"]:
        for v in p["variants"]:
            assert _ref(lift_fasta, v["chrom"], v["pos"], len(v["ref"])) == v["ref"], v["id"]
            m = re.fullmatch(r"c\.(\d+)([ACGT])>([ACGT])", v["hgvsc"])
            if not m:
                continue
            tx = mane[v["gene"]]
            cpos = int(m.group(1))
            assert tx.cds_positions()[cpos - 1] == v["pos"], v["id"]
            coding_ref = v["ref"] if tx.strand == "+" else v["ref"].translate(comp)
            coding_alt = v["alt"] if tx.strand == "+" else v["alt"].translate(comp)
            assert (coding_ref, coding_alt) == (m.group(2), m.group(3)), v["id"]
            codon_no = (cpos - 1) // 3
            codon = "".join(_ref(lift_fasta, tx.chrom, g) for g in tx.cds_positions()[3 * codon_no:3 * codon_no + 3])
            codon = codon if tx.strand == "+" else codon.translate(comp)
            assert v["hgvsp_short"] == f"p.{_CODON[codon]}{codon_no + 1}{v['hgvsp_short'][-1]}", v["id"]
            n += 1
    assert n >= 10


def test_truth_tables_consistent(sim_small: Path) -> None:
    mech = _tsv(sim_small / "truth" / "mechanisms.tsv")
    got = {(m["patient_id"], m["class"], m["subclass"], m["gene"]): m for m in mech}
    assert set(got) >= {("UNL001", "on_target", "ON_TARGET_MUT", "EGFR"), ("UNL001", "bypass", "BYPASS_RTK", "RET"),
                        ("UNL002", "bypass", "BYPASS_RTK", "MET")}
    days = {(r["patient_id"], r["timepoint"], r["sample_type"]): int(r["collection_day"])
            for r in _tsv(sim_small / "config" / "samples.tsv")}
    first = {k[0] + k[3]: int(m["first_plasma_day"]) for k, m in got.items()}
    assert first["UNL001EGFR"] == days[("UNL001", "on_treatment", "plasma")]   # molecular progression
    assert first["UNL001RET"] == days[("UNL001", "progression", "plasma")]     # the fusion only at progression
    assert first["UNL002MET"] == days[("UNL002", "progression", "plasma")]
    assert all(m["citation"] for m in mech)
    rows = _tsv(sim_small / "truth" / "variants.tsv")
    c797s = {r["sample_id"]: float(r["expected_vaf"]) for r in rows if r["hgvsp_short"] == "p.C797S"}
    assert c797s["UNL001-P-BL"] == 0 and c797s["UNL001-T-BL"] == 0 and c797s["UNL001-N"] == 0
    assert c797s["UNL001-P-OT"] == pytest.approx(0.006) and c797s["UNL001-P-PD"] == pytest.approx(0.02)
    assert c797s["UNL001-T-PD"] == pytest.approx(0.45 * 0.6 / 2)   # tc * ccf / 2
    germ = defaultdict(set)
    for r in rows:
        if r["origin"] == "germline":
            assert float(r["expected_vaf"]) in (0.5, 1.0)
            germ[r["patient_id"]].add((r["chrom"], r["pos"], r["alt"], r["expected_vaf"]))
    assert 10 <= len(germ["UNL001"]) <= 40 and germ["UNL001"] != germ["UNL002"]
    cn = [r for r in _tsv(sim_small / "truth" / "copy_number.tsv") if r["sample_id"] == "UNL002-T-PD" and r["gene"] == "MET"]
    assert float(cn[0]["expected_copy_ratio"]) == pytest.approx((0.5 * 10 + 0.5 * 2) / 2)
    assert float(cn[0]["expected_log2_ratio"]) == pytest.approx(np.log2(3.0), rel=1e-5)


def _record_hash(bam: Path) -> str:
    h = hashlib.sha256()
    with pysam.AlignmentFile(str(bam)) as fh:
        for r in fh.fetch(until_eof=True):
            h.update(r.to_string().encode())
    return h.hexdigest()


def test_deterministic_across_threads_and_subsets(sim_small: Path, subset_run: Path) -> None:
    for sid in ("UNL001-N", "UNL002-N"):
        assert _record_hash(sim_small / "bams" / f"{sid}.bam") == _record_hash(subset_run / "bams" / f"{sid}.bam")
    for name in ("copy_number.tsv", "mechanisms.tsv"):
        assert (sim_small / "truth" / name).read_bytes() == (subset_run / "truth" / name).read_bytes()
    full = [r for r in _tsv(sim_small / "truth" / "variants.tsv") if r["sample_id"] in ("UNL001-N", "UNL002-N")]
    sub = [r for r in _tsv(subset_run / "truth" / "variants.tsv") if r["sample_id"] in ("UNL001-N", "UNL002-N")]
    assert full == sub and len(full) > 20


def test_other_seed_differs(sim_small: Path, shared_data: Path) -> None:
    from unlock_atlas.simulate.cohort import plan_cohort
    from unlock_atlas.simulate.panelgenome import PanelGenome
    from unlock_atlas.simulate.scenario import load_scenario

    scn = load_scenario()
    genome = PanelGenome.for_scenario(shared_data, scn)
    sites = {s: {(v.allele.pos, v.allele.alt) for v in plan_cohort(scn, genome, "small", s).variants["UNL001"]}
             for s in (SEED, SEED + 1)}
    assert sites[SEED] != sites[SEED + 1]
    truth = {(int(r["pos"]), r["alt"]) for r in _tsv(sim_small / "truth" / "variants.tsv") if r["patient_id"] == "UNL001"}
    assert truth == sites[SEED]


def test_fastq_output(sim_small: Path, tmp_path: Path, shared_data: Path) -> None:
    from unlock_atlas.simulate import simulate_cohort

    out = tmp_path / "fq"
    simulate_cohort(out, SEED, cohort="small", fastq=True, threads=1, data_dir=shared_data, only_samples=["UNL001-N"])
    row = next(r for r in _tsv(out / "config" / "samples.tsv") if r["sample_id"] == "UNL001-N")
    assert row["bam"] == "" and row["fastq_1"] == "fastq/UNL001-N_R1.fastq.gz"
    names = []
    for key in ("fastq_1", "fastq_2"):
        with gzip.open(out / row[key], "rt") as fh:
            lines = fh.read().split("\n")
        assert lines[-1] == "" and (len(lines) - 1) % 4 == 0
        recs = [lines[i:i + 4] for i in range(0, len(lines) - 1, 4)]
        for h, s, plus, q in recs[:2000]:
            assert h.startswith("@") and plus == "+" and len(s) == len(q) and set(s) <= set("ACGTN")
            assert all(35 <= ord(c) <= 73 for c in q)
        names.append([r[0] for r in recs])
    assert names[0] == names[1]
    n_bam = int(pysam.samtools.view("-c", str(sim_small / "bams" / "UNL001-N.bam")))
    assert 2 * len(names[0]) == n_bam


def test_bad_scenario_is_reported(tmp_path: Path, shared_data: Path) -> None:
    from unlock_atlas.simulate import simulate_cohort

    bad = tmp_path / "bad.yaml"
    text = SCENARIO.read_text().replace("pos: 55191822, ref: T, alt: G", "pos: 55191822, ref: C, alt: G")
    bad.write_text(text)
    with pytest.raises(InputError, match="EGFR_L858R.*ref C but GRCh38 has T"):
        simulate_cohort(tmp_path / "x", 1, cohort="small", data_dir=shared_data, scenario=bad)
    assert main(["simulate", "--out", str(tmp_path / "y"), "--seed", "1", "--scenario", str(bad),
                 "--data-dir", str(shared_data)]) == 2


@pytest.mark.slow
def test_full_rerun_byte_identical(sim_small: Path, tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "again"
    assert main(["simulate", "--out", str(out), "--seed", str(SEED), "--cohort", "small", "--threads", "1",
                 "--data-dir", str(shared_data)]) == 0
    for name in ("variants.tsv", "copy_number.tsv", "fusions.tsv", "mechanisms.tsv"):
        assert (out / "truth" / name).read_bytes() == (sim_small / "truth" / name).read_bytes()
    for name in ("config.yaml", "samples.tsv", "patients.tsv", "panel_extra.bed"):
        assert (out / "config" / name).read_bytes() == (sim_small / "config" / name).read_bytes()
    for b in sorted((sim_small / "bams").glob("*.bam")):
        assert _record_hash(b) == _record_hash(out / "bams" / b.name), b.name


def test_demo_plans_a_cdkn2a_homozygous_deletion(region_fasta: Path, mane_gtf: Path) -> None:
    """UNL004 (BRAF V600E NSCLC) carries a homozygous CDKN2A deletion in every tumour sample: the gene's DNA
    is then only the non-tumour share, ratio = 1 - tc, and no somatic allele can sit on it."""
    from unlock_atlas.simulate.cohort import clonal_vaf, plan_cohort
    from unlock_atlas.simulate.panelgenome import PanelGenome
    from unlock_atlas.simulate.scenario import load_scenario

    scn = load_scenario(SCENARIO)
    raw = yaml.safe_load(SCENARIO.read_text())
    tcs = {k: v.get("purity", v.get("tf", 0.0)) for k, v in
           next(p for p in raw["patients"] if p["id"] == "UNL004")["samples"].items()}
    genome = PanelGenome.load(region_fasta, mane_gtf, list(scn.panel_genes), scn.panel_padding)
    plan = plan_cohort(scn, genome, "demo", 1)
    for s in (s for s in plan.samples if s.patient_id == "UNL004"):
        if s.key == "N":
            assert s.gene_ratio("CDKN2A") == 1.0
            continue
        assert s.gene_cn["CDKN2A"] == 0
        assert s.gene_ratio("CDKN2A") == pytest.approx(1 - tcs[s.key])
        assert all(vaf == 0 for v, vaf in s.variants if v.gene == "CDKN2A" and v.origin == "somatic")
    assert clonal_vaf(0.5, 1.0, min(1, 0.0), 0.0) == 0.0


def _split_records(bam: pysam.AlignmentFile, regions: list[tuple[str, int, int]]) -> list[pysam.AlignedSegment]:
    out, seen = [], set()
    for chrom, a, b in regions:
        for r in bam.fetch(chrom, a, b):
            key = (r.query_name, r.flag, r.reference_start)
            if r.has_tag("SA") and key not in seen:
                seen.add(key)
                out.append(r)
    return out


def test_fusion_planted_as_split_reads_and_discordant_pairs(sim_small: Path, lift_fasta) -> None:
    """UNL001's acquired PTEN-RET fusion (PTEN standing in for CCDC6): truth fraction from the scenario's
    clonal model, BWA-MEM-style records (reciprocal SA tags, hard-clipped supplementaries, aligned
    bases equal to GRCh38 on both partners, junction at the planted bases), absent where not planted."""
    raw = next(p for p in yaml.safe_load(SCENARIO.read_text())["patients"] if p["id"] == "UNL001")
    fus = raw["fusions"][0]
    pos5, pos3 = int(fus["pos5"]), int(fus["pos3"])
    truth = {r["sample_id"]: r for r in _tsv(sim_small / "truth" / "fusions.tsv")}
    assert {r["patient_id"] for r in truth.values()} == {"UNL001"} and len(truth) == 6
    purity = raw["samples"]["T-PD"]["purity"]
    tpd = truth["UNL001-T-PD"]
    assert float(tpd["expected_fraction_3"]) == pytest.approx(purity * fus["ccf"]["T-PD"] / 2)   # tc * ccf * 1 / 2
    for key in ("N", "T-BL", "P-BL", "P-OT"):
        assert float(truth[f"UNL001-{key}"]["expected_fraction_3"]) == 0
    bam = pysam.AlignmentFile(str(sim_small / "bams" / "UNL001-T-PD.bam"))
    recs = _split_records(bam, [("chr10", pos3 - 500, pos3 + 500), ("chr10", pos5 - 500, pos5 + 500)])
    by_name = defaultdict(list)
    for r in recs:
        by_name[r.query_name].append(r)
    assert len(by_name) >= 10
    for name, rs in by_name.items():
        prim = [r for r in rs if not r.is_supplementary]
        supp = [r for r in rs if r.is_supplementary]
        for p in prim:   # the SA of a primary names a supplementary of the same read, and back
            chrom, pos, strand, cigar = p.get_tag("SA").split(",")[:4]
            s = next(x for x in supp if x.is_read1 == p.is_read1)
            assert (s.reference_name, s.reference_start + 1, "-" if s.is_reverse else "+") == (chrom, int(pos), strand)
            assert s.cigartuples[0][0] == 5 or s.cigartuples[-1][0] == 5   # hard-clipped
            assert s.get_tag("SA").split(",")[1] == str(p.reference_start + 1)
        for r in rs:
            ref = _ref(lift_fasta, r.reference_name, r.reference_start + 1, r.reference_length)
            mism = sum(a != b for a, b in zip(r.query_alignment_sequence, ref))
            assert mism <= 4, (name, r.cigarstring, mism)      # sequencing errors only
            if r.reference_start < 50_000_000:   # RET part: starts at pos3 (clip on its left)
                assert r.reference_start + 1 == pos3
            else:                                # PTEN part: ends at pos5 (clip on its right)
                assert r.reference_end == pos5
    # every detectable chimeric molecule shows up as a split read or a discordant pair
    evid = set(by_name)
    for r in bam.fetch("chr10", pos3 - 1000, pos3 + 1000):
        if not r.is_duplicate and not r.is_secondary and r.next_reference_start > 80_000_000:
            evid.add(r.query_name)
    dup = {r.query_name for r in bam.fetch("chr10", pos3 - 1000, pos3 + 1000) if r.is_duplicate}
    n_det = int(tpd["detectable_molecules"])
    assert n_det - 2 <= len(evid - dup) <= n_det, (len(evid - dup), n_det)
    for sid in ("UNL001-T-BL", "UNL001-N", "UNL002-T-PD"):   # no chimeric record where nothing was planted
        with pysam.AlignmentFile(str(sim_small / "bams" / f"{sid}.bam")) as fh:
            assert not any(r.has_tag("SA") or (r.is_paired and not r.is_proper_pair and not r.mate_is_unmapped)
                           for r in fh.fetch(until_eof=True)), sid


def test_scenario_fusion_breakpoint_must_be_intronic(tmp_path: Path, shared_data: Path) -> None:
    from unlock_atlas.simulate import simulate_cohort

    bad = tmp_path / "bad.yaml"
    # RET c.2071 region: chr10:43114500 lies in exon 11 (43114480-43114736 in the MANE GTF)
    bad.write_text(SCENARIO.read_text().replace("pos3: 43115600", "pos3: 43114500"))
    with pytest.raises(InputError, match="PTEN_RET.*43114500 is not in an intron of RET"):
        simulate_cohort(tmp_path / "x", 1, cohort="small", data_dir=shared_data, scenario=bad)
