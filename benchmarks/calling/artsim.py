"""Read simulation for the calling accuracy benchmark (``accuracy.py``): planted variants,
``art_illumina`` haplotype read sets, bwa alignment, and mixing of the read sets into samples.

Design (each piece is the real tool; nothing is modelled):

* **Windows.** The panel intervals (MANE coding exons +/- 20 bp of the demo panel genes, real
  GRCh38 sequence from ``../shared/data``) padded by ``PAD`` = 100 bp and merged, as a capture
  panel would pull reads a little beyond its baits. Reads are simulated from the window
  sequences; they are aligned to the *whole* 4.5 Mb region FASTA, so reads can mis-map.
* **Planted variants.** In every panel interval, sites every ``SPACING`` = 150 bp from 40 bp in
  (one site per 150-bp step so that a 200-bp fragment rarely carries more than two); 80 % SNVs,
  10 % deletions and 10 % insertions of 1-4 bp, chosen so that the planted allele is already
  left-normalised (the base before a deletion differs from the deleted run's last base; an
  inserted run does not end with the anchor base) - the truth key needs no normaliser.
* **Haplotype read sets.** ``art_illumina -ss HS25 -p -l 150 -m 200 -s 30`` (HiSeq 2500 error
  profile; the default indel error rates) simulates, once: the reference haplotype at
  ``TOP_DEPTH`` x ``INFLATE`` fragments, the mutated haplotype at ``MAX_VAF`` times that, and an
  independent reference-haplotype normal at ``NORMAL_DEPTH``. Each set is aligned once
  (``unlock_atlas.align.align_fastq``: pybwa ``bwa mem``, lift, fixmate, sort, markdup).
* **Mixing.** A sample at depth ``d`` with window ``w`` at VAF ``v`` keeps a reference pair when
  ``u < (d / D) (1 - v)`` and a mutated-haplotype pair when
  ``u < (d / D) v / MAX_VAF``, ``D`` the measured median
  deduplicated depth of the whole reference set over the panel, , ``u`` a per-pair uniform from a hash of the read name
  (both mates together). The window's VAF is ``VAFS[(w + rotation) % 8]``: with 8 rotations
  every site is tested at every VAF from the same two aligned read sets. Duplicates are then
  re-marked on the mixed BAM (``samtools markdup -c``), so depth is counted as deduplicated
  fragments exactly as in the pipeline.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

VAFS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
MAX_VAF = 0.2
TOP_DEPTH = 5000
INFLATE = 1.06  # art fragments that markdup will call duplicates by coordinate (~5 % at 5,000x)
NORMAL_DEPTH = 1000
PAD = 100
SPACING = 150
EDGE = 40
READ_LEN, FRAG_MEAN, FRAG_SD = 150, 200, 30


@dataclass(frozen=True)
class Site:
    """One planted allele (VCF conventions, chromosome coordinates) and its window."""

    chrom: str
    pos: int
    ref: str
    alt: str
    window: int

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.chrom, self.pos, self.ref, self.alt)

    @property
    def kind(self) -> str:
        return "snv" if len(self.ref) == len(self.alt) == 1 else "indel"


def windows_from_panel(intervals: list[tuple[str, int, int]], pad: int = PAD) -> list[tuple[str, int, int]]:
    """Panel intervals +/- pad, merged (0-based half-open, chromosome coordinates)."""
    out: list[list] = []
    for c, s, e in sorted((c, max(0, s - pad), e + pad) for c, s, e in intervals):
        if out and out[-1][0] == c and s <= out[-1][2]:
            out[-1][2] = max(out[-1][2], e)
        else:
            out.append([c, s, e])
    return [tuple(w) for w in out]


def plant(intervals: list[tuple[str, int, int]], windows: list[tuple[str, int, int]], genome: pysam.FastaFile,
          seed: int) -> list[Site]:
    """Planted alleles, one per SPACING bp of each panel interval (module docstring)."""
    rng = np.random.default_rng(seed)
    sites = []
    for c, s, e in intervals:
        w = next(i for i, (wc, ws, we) in enumerate(windows) if wc == c and ws <= s and e <= we)
        seq = genome.fetch(c, s, e).upper()
        for p0 in range(s + EDGE, e - EDGE, SPACING):
            i = p0 - s
            ref = seq[i]
            if ref not in "ACGT":
                continue
            kind = rng.choice(["snv", "del", "ins"], p=[0.8, 0.1, 0.1])
            n = int(rng.integers(1, 5))
            if kind == "del" and i + n + 1 < len(seq) and seq[i] != seq[i + n] and "N" not in seq[i:i + n + 1]:
                sites.append(Site(c, p0 + 1, seq[i:i + n + 1], ref, w))
                continue
            if kind == "ins":
                ins = "".join(rng.choice(list("ACGT"), size=n))
                if ins[-1] != ref:
                    sites.append(Site(c, p0 + 1, ref, ref + ins, w))
                    continue
            alt = str(rng.choice([b for b in "ACGT" if b != ref]))
            sites.append(Site(c, p0 + 1, ref, alt, w))
    return sites


def write_window_fastas(windows: list[tuple[str, int, int]], sites: list[Site], genome: pysam.FastaFile,
                        ref_fa: Path, alt_fa: Path) -> None:
    """Reference windows (contigs ``w<i>``) and mutated windows (``a<i>``) with every site applied."""
    by_w: dict[int, list[Site]] = {}
    for st in sites:
        by_w.setdefault(st.window, []).append(st)
    with open(ref_fa, "w") as fr, open(alt_fa, "w") as fa:
        for i, (c, s, e) in enumerate(windows):
            seq = genome.fetch(c, s, e).upper()
            fr.write(f">w{i}\n{seq}\n")
            mut = seq
            for st in sorted(by_w.get(i, []), key=lambda x: -x.pos):  # right to left: offsets stay valid
                j = st.pos - 1 - s
                assert mut[j:j + len(st.ref)] == st.ref, (st, mut[j:j + len(st.ref)])
                mut = mut[:j] + st.alt + mut[j + len(st.ref):]
            fa.write(f">a{i}\n{mut}\n")


def art(fasta: Path, depth: float, prefix: Path, seed: int) -> tuple[Path, Path]:
    """Paired reads at ``depth`` fragments per position (art's -f counts read bases: 2 x 150 / 200)."""
    fold = depth * 2 * READ_LEN / FRAG_MEAN
    subprocess.run(["art_illumina", "-ss", "HS25", "-p", "-l", str(READ_LEN), "-m", str(FRAG_MEAN),
                    "-s", str(FRAG_SD), "-f", f"{fold:.3f}", "-i", str(fasta), "-o", str(prefix), "-na",
                    "-rs", str(seed), "-q"], check=True, stdout=subprocess.DEVNULL)
    return Path(f"{prefix}1.fq"), Path(f"{prefix}2.fq")


def simulate_and_align(work: Path, ref_fa: Path, alt_fa: Path, bwa_prefix: Path, threads: int) -> dict[str, Path]:
    """art + bwa for the three read sets (cached: a finished BAM is not redone)."""
    from unlock_atlas.align import align_fastq

    plan = {"ref": (ref_fa, TOP_DEPTH * INFLATE, 11), "alt": (alt_fa, TOP_DEPTH * INFLATE * MAX_VAF, 12),
            "normal": (ref_fa, NORMAL_DEPTH * INFLATE, 13)}
    out = {}
    for name, (fa, depth, seed) in plan.items():
        bam = work / f"{name}.bam"
        if not bam.exists():
            r1, r2 = art(fa, depth, work / f"{name}_", seed)
            align_fastq(r1, r2, bwa_prefix, bam, name, threads=threads, chunk_pairs=200_000)
            r1.unlink()
            r2.unlink()
        out[name] = bam
    return out


def _u(name: str) -> float:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little") / 2.0 ** 64


def mix(ref_bam: Path, alt_bam: Path, depths: list[int], rotations: int, work: Path,
        threads: int, top_median: float) -> dict[tuple[int, int], Path]:
    """One pass over both read sets writes every (depth, rotation) sample (module docstring).

    ``top_median`` is the measured median deduplicated fragment depth of the whole reference read
    set over the panel; depth ``d`` keeps the fraction ``d / top_median`` (art's -f sets the mean
    over a window, whose middle - the panel interval - is deeper than its ends).
    """
    targets = {(d, r): work / f"d{d}_r{r}.bam" for d in depths for r in range(rotations)}
    todo = {k: p for k, p in targets.items() if not p.exists()}
    if not todo:
        return targets
    keys = sorted(todo)
    with pysam.AlignmentFile(str(ref_bam)) as fh:
        header = fh.header
    writers = {k: pysam.AlignmentFile(str(todo[k]) + ".unsorted.bam", "wb", header=header) for k in keys}
    frac = np.array([min(1.0, k[0] / top_median) for k in keys])
    rot = np.array([k[1] for k in keys])
    vafs = np.asarray(VAFS)
    for bam, is_alt in ((ref_bam, False), (alt_bam, True)):
        with pysam.AlignmentFile(str(bam)) as fh:
            for rec in fh.fetch(until_eof=True):
                name = rec.query_name  # the decision depends on the name only: mates go together
                w = int(name[1:name.index("-")])
                v = vafs[(w + rot) % len(VAFS)]
                sel = np.flatnonzero(_u(name) < frac * (v / MAX_VAF if is_alt else 1 - v))
                if is_alt:
                    rec.set_tag("RG", "ref", value_type="Z")  # one read group (the header's) per sample
                for j in sel:
                    writers[keys[j]].write(rec)
    for k, wtr in writers.items():
        wtr.close()
        _finish(Path(str(todo[k]) + ".unsorted.bam"), todo[k], threads)
    return targets


def _finish(unsorted: Path, out: Path, threads: int) -> None:
    """sort -> markdup -c (re-mark duplicates of the mixed sample) -> index, atomically renamed."""
    at = ["-@", str(max(threads - 1, 0))]
    srt, marked = Path(f"{out}.sorted.bam"), Path(f"{out}.marked.bam")
    pysam.samtools.sort(*at, "-T", f"{out}.tmp", "-o", str(srt), str(unsorted), catch_stdout=False)
    pysam.samtools.markdup(*at, "-c", "-T", f"{out}.tmpm", str(srt), str(marked), catch_stdout=False)
    pysam.samtools.index(str(marked), f"{out}.bai", catch_stdout=False)
    os.replace(marked, out)
    unsorted.unlink()
    srt.unlink()
