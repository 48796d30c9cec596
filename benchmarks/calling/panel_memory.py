"""Memory and time of genotyping a large plasma panel (issue 16, item 4), against
``bcftools mpileup -d 100000`` over the same regions, in one script.

Usage::

    python benchmarks/calling/panel_memory.py --work DIR [--mb 1.5] [--depth 2000] [--long 200000]

Panel: the 36 shared GRCh38 regions (``reference_grch38``), exons + introns: one interval of
``--long`` bases (default 200 kb) inside the longest MANE gene body (ALK), and from each of the
other 35 regions one interval of the gene body (the region minus its LRG flanks where the MANE
GTF has no transcript), all cut to the same length so that the panel totals ``--mb`` Mb.

Plasma sample: paired 2 x 150 reads of fragments of 150-350 bp (normal, mean 180, sd 25: cfDNA
is ~167 bp, lengths below 150 are raised to 150 so that every read is 150 bp) drawn uniformly
over each interval +/- 350 bp at ``--depth`` fragments per base (deduplicated: no duplicates
are written); substitution errors at 1e-3 per base (Q37 everywhere), and one SNV per 10 kb of
panel at 1 % VAF (a fragment carries it on both mates). The BAM is written record by record as
raw BAM with numpy (simulating 10^7 reads through pysam objects would dominate the benchmark),
sorted by construction, then indexed.

Steps, each in a fresh ``spawn`` process so that its peak resident set is its own (bcftools
runs in-process through ``pysam.bcftools``; the process's Python and imports are included):

* ``bcftools mpileup -d 100000 -q 20 -Q 20 -a AD,ADF,ADR -f FA -R panel.bed -Ou``;
* ours: ``count_sample`` + ``genotype_patient`` (the caller's counting and joint genotyping of
  the one plasma sample, no normal);
* ours on the long interval alone (the "200-kb interval at 2,000x" figure).

Prints a Markdown table; wall time is measured inside each process around the work only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import struct
import time
from pathlib import Path

import numpy as np

READ = 150
PAD = 350
ERROR = 1e-3
QUAL = 37
VAF = 0.01
SNV_EVERY = 10_000
LONG_GENE = "ALK"
MEAN_FRAG = 180.4  # mean of normal(180, 25) clipped to [150, 350]
_CODE = np.array([1, 2, 4, 8, 15], np.uint8)  # BAM 4-bit codes of A C G T N


def shared_data() -> Path:
    from unlock_atlas.paths import resolve_data_dir

    return resolve_data_dir(None)


def plan_panel(mb: float, long: int) -> list[tuple[str, int, int, str]]:
    """Panel intervals (contig, start0, end, gene) in the shared FASTA's contig coordinates."""
    import pandas as pd

    d = shared_data()
    reg = pd.read_csv(d / "reference_grch38" / "panel_genes.GRCh38.regions.tsv", sep="\t")
    bodies: dict[str, tuple[int, int]] = {}
    for line in (d / "transcripts_grch38" / "panel_mane_select.GRCh38.gtf").read_text().splitlines():
        f = line.split("\t")
        if len(f) > 8 and f[2] == "transcript":
            g = f[8].split('gene_name "')[1].split('"')[0]
            bodies[g] = (int(f[3]), int(f[4]))
    spans = {}
    for r in reg.itertuples():
        if r.gene in bodies:
            s, e = bodies[r.gene][0] - 1 - r.offset_to_add, bodies[r.gene][1] - r.offset_to_add
        else:
            s, e = 5000, r.length - 2000  # LRG flanks: ~5 kb upstream, ~2 kb downstream (SOURCE.md)
        spans[r.gene] = (r.contig, max(s, PAD), min(e, r.length - PAD))
    c, s, e = spans.pop(LONG_GENE)
    if e - s < long:
        raise SystemExit(f"{LONG_GENE} gene body is {e - s} bp, shorter than --long {long}")
    out = [(c, s, s + long, LONG_GENE)]
    share = max(int((mb * 1e6 - long) / len(spans)), 0)
    for g, (c, s, e) in sorted(spans.items()):
        if share:
            out.append((c, s, min(e, s + share), g))
    return sorted(out)


def _bam_header(refs: list[tuple[str, int]]) -> bytes:
    text = "@HD\tVN:1.6\tSO:coordinate\n" + "".join(f"@SQ\tSN:{n}\tLN:{ln}\n" for n, ln in refs)
    out = [b"BAM\x01", struct.pack("<i", len(text)), text.encode(), struct.pack("<i", len(refs))]
    for n, ln in refs:
        out += [struct.pack("<i", len(n) + 1), n.encode() + b"\0", struct.pack("<i", ln)]
    return b"".join(out)


def _reg2bin(beg: np.ndarray, end: np.ndarray) -> np.ndarray:
    """SAM spec reg2bin, vectorised (end exclusive)."""
    end = end - 1
    out = np.zeros(len(beg), np.int64)
    done = np.zeros(len(beg), bool)
    for shift, off in ((14, 4681), (17, 585), (20, 73), (23, 9), (26, 1)):
        hit = ~done & ((beg >> shift) == (end >> shift))
        out[hit] = off + (beg[hit] >> shift)
        done |= hit
    return out


_REC = np.dtype([("bs", "<i4"), ("ref", "<i4"), ("pos", "<i4"), ("lname", "u1"), ("mapq", "u1"), ("bin", "<u2"),
                 ("ncig", "<u2"), ("flag", "<u2"), ("lseq", "<i4"), ("nref", "<i4"), ("npos", "<i4"), ("tlen", "<i4"),
                 ("name", "S11"), ("cigar", "<u4"), ("seq", "u1", (READ // 2,)), ("qual", "u1", (READ,))])


def simulate_bam(path: Path, fasta: Path, panel: list[tuple[str, int, int, str]], depth: int, seed: int) -> dict:
    """Write the plasma BAM (module docstring); returns its read and SNV counts."""
    import pysam
    from pysam.libcbgzf import BGZFile

    rng = np.random.default_rng(seed)
    with pysam.FastaFile(str(fasta)) as fa:
        refs = list(zip(fa.references, fa.lengths))
        rid = {n: i for i, (n, _) in enumerate(refs)}
        lut = np.full(256, 4, np.uint8)
        for i, b in enumerate("ACGT"):
            lut[ord(b)] = i
        n_reads = n_snv = 0
        frag0 = 0
        tmp = path.with_suffix(".tmp.bam")
        with BGZFile(str(tmp), "wb") as out:
            out.write(_bam_header(refs))
            for c, s, e, _ in sorted(panel, key=lambda t: (rid[t[0]], t[1])):
                lo, hi = s - PAD, e + PAD
                seq = lut[np.frombuffer(fa.fetch(c, lo, hi).upper().encode(), np.uint8)]
                n_frag = int(round((hi - lo - 350) * depth / MEAN_FRAG))  # starts over hi - lo - 350 bases
                fs = np.sort(rng.integers(0, hi - lo - 350, n_frag))
                fl = np.clip(np.round(rng.normal(180, 25, n_frag)), READ, 350).astype(np.int64)
                snv_pos = np.arange(s - lo + SNV_EVERY // 2, e - lo, SNV_EVERY)
                snv_alt = (seq[snv_pos] + 1 + rng.integers(0, 3, len(snv_pos))) % 4
                n_snv += len(snv_pos)
                carrier = rng.random(n_frag) < VAF
                # reads: read 1 forward at the fragment start, read 2 reverse at its end
                pos = np.concatenate([fs, fs + fl - READ])
                mpos = np.concatenate([fs + fl - READ, fs])
                fid = np.concatenate([np.arange(n_frag), np.arange(n_frag)])
                r2 = np.repeat([False, True], n_frag)
                order = np.lexsort((r2, pos))
                pos, mpos, fid, r2 = pos[order], mpos[order], fid[order], r2[order]
                for a in range(0, len(pos), 400_000):
                    sl = slice(a, a + 400_000)
                    p, m, f, two = pos[sl], mpos[sl], fid[sl], r2[sl]
                    bases = seq[p[:, None] + np.arange(READ)]
                    for sp, sa in zip(snv_pos, snv_alt):
                        hit = np.flatnonzero(carrier[f] & (p <= sp) & (sp < p + READ))
                        bases[hit, sp - p[hit]] = sa
                    err = rng.random(bases.shape) < ERROR
                    bases[err] = (bases[err] + 1 + rng.integers(0, 3, int(err.sum()))) % 4
                    codes = _CODE[bases]
                    rec = np.zeros(len(p), _REC)
                    rec["bs"] = _REC.itemsize - 4
                    rec["ref"] = rec["nref"] = rid[c]
                    rec["pos"], rec["npos"] = p + lo, m + lo
                    rec["lname"], rec["mapq"], rec["ncig"], rec["lseq"] = 11, 60, 1, READ
                    rec["bin"] = _reg2bin(p + lo, p + lo + READ)
                    rec["flag"] = np.where(two, 147, 99)
                    tl = np.maximum(p, m) + READ - np.minimum(p, m)
                    rec["tlen"] = np.where(two, -tl, tl)
                    digits = ((f[:, None] + frag0) // 10 ** np.arange(9, -1, -1)) % 10 + 48
                    rec["name"] = np.ascontiguousarray(digits.astype(np.uint8)).view("S10").ravel()
                    rec["cigar"] = READ << 4
                    rec["seq"] = (codes[:, 0::2] << 4) | codes[:, 1::2]
                    rec["qual"] = QUAL
                    out.write(rec.tobytes())
                    n_reads += len(p)
                frag0 += n_frag
    tmp.replace(path)
    pysam.index(str(path))
    return {"reads": n_reads, "snvs": n_snv}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _bcftools(bam: str, bed: str, fasta: str, q) -> None:
    import tempfile

    import pysam.bcftools

    with tempfile.TemporaryDirectory() as d:
        t0, c0 = time.perf_counter(), _cpu()
        pysam.bcftools.mpileup("-d", "100000", "-q", "20", "-Q", "20", "-a", "AD,ADF,ADR", "-f", fasta,
                               "-R", bed, "-Ou", "-o", str(Path(d) / "x.bcf"), bam)
        t, c = time.perf_counter() - t0, _cpu() - c0
    q.put({"s": t, "cpu": c, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def _ours(bam: str, bed: str, fasta: str, q, genotype: bool = True) -> None:
    from unlock_atlas.calling.caller import genotype_patient, read_panel, read_panel_genes
    from unlock_atlas.calling.pileup import COUNT_WINDOW, count_sample

    iv = read_panel(bed)
    t0, c0 = time.perf_counter(), _cpu()
    sc = count_sample(bam, fasta, iv, "P")
    t_count, c_count = time.perf_counter() - t0, _cpu() - c0
    depth = float(np.median(np.concatenate([r.depth for r in sc.regions])))
    n_called = None
    if genotype:
        calls = genotype_patient({"P": sc}, None, {"P": "plasma"}, genes=read_panel_genes(bed))
        n_called = int(((calls["status"] == "called") & (calls["filter"] == "PASS")).sum()) if len(calls) else 0
    t, c = time.perf_counter() - t0, _cpu() - c0
    q.put({"s": t, "cpu": c, "count_s": t_count, "count_cpu": c_count,
           "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "median_depth": depth,
           "called_pass": n_called, "window": COUNT_WINDOW})


def _step(fn, *args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=fn, args=(*args, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--mb", type=float, default=1.5, help="panel size in Mb (default 1.5)")
    ap.add_argument("--depth", type=int, default=2000, help="deduplicated fragments per base (default 2000)")
    ap.add_argument("--long", type=int, default=200_000, help="length of the one long interval (default 200 kb)")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--simulate-only", action="store_true", help="write (or find) the BAM and stop")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    fasta = shared_data() / "reference_grch38" / "panel_genes.GRCh38.fa"
    panel = plan_panel(a.mb, a.long)
    tag = f"mb{a.mb:g}_d{a.depth}_l{a.long}_s{a.seed}"
    bed, long_bed, bam = a.work / f"{tag}.bed", a.work / f"{tag}.long.bed", a.work / f"{tag}.bam"
    bed.write_text("".join(f"{c}\t{s}\t{e}\t{g}\n" for c, s, e, g in panel))
    long_bed.write_text("".join(f"{c}\t{s}\t{e}\t{g}\n" for c, s, e, g in panel if g == LONG_GENE))
    meta = a.work / f"{tag}.json"
    if not (bam.exists() and meta.exists()):
        t0 = time.perf_counter()
        info = simulate_bam(bam, fasta, panel, a.depth, a.seed)
        info["simulate_s"] = time.perf_counter() - t0
        meta.write_text(json.dumps(info))
    info = json.loads(meta.read_text())
    bp = sum(e - s for _, s, e, _ in panel)
    print(f"panel: {len(panel)} intervals, {bp:,} bp (longest {max(e - s for _, s, e, _ in panel):,} bp, {LONG_GENE}); "
          f"plasma BAM: {info['reads']:,} reads, {info['snvs']} SNVs at {VAF:.0%} VAF; simulated in "
          f"{info['simulate_s']:.0f} s", flush=True)
    if a.simulate_only:
        return
    rows = []
    for label, b in ((f"whole panel ({bp / 1e6:.3f} Mb)", bed), (f"{LONG_GENE} interval alone ({a.long:,} bp)", long_bed)):
        bcf = _step(_bcftools, str(bam), str(b), str(fasta))
        ours = _step(_ours, str(bam), str(b), str(fasta))
        rows.append((label, bcf, ours))
        print(f"{label}: bcftools {bcf}, ours {ours}", flush=True)
    print("\nCPU s = user + system time of the step's process around the work (the machine is shared, so CPU time "
          "is the comparable figure; wall s in brackets).\n\n"
          "| regions | median fragment depth | bcftools mpileup CPU s (wall) | ours: count CPU s (wall) "
          "| ours: count + genotype CPU s (wall) | CPU ratio ours / bcftools | peak RSS bcftools MiB | peak RSS ours MiB "
          "| PASS calls |\n|---|---|---|---|---|---|---|---|---|")
    for label, bcf, ours in rows:
        print(f"| {label} | {ours['median_depth']:.0f} | {bcf['cpu']:.1f} ({bcf['s']:.1f}) "
              f"| {ours['count_cpu']:.1f} ({ours['count_s']:.1f}) | {ours['cpu']:.1f} ({ours['s']:.1f}) "
              f"| {ours['cpu'] / bcf['cpu']:.2f} | {bcf['rss_mib']:.0f} | {ours['rss_mib']:.0f} | {ours['called_pass']} |")
    print(f"\ncounting window: {rows[0][2]['window']:,} bp (unlock_atlas.calling.pileup.COUNT_WINDOW)")


if __name__ == "__main__":
    main()
