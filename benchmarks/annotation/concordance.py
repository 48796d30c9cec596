"""Concordance of `unlock-atlas annotate` with `bcftools csq` on the benchmark outputs (SNVs).

bcftools csq is re-run with ``-l`` (local: one record at a time) so neighbouring records are
not merged into one haplotype, which is what a per-record annotator does.

For every SNV record where bcftools csq reports a missense / synonymous / stop_gained change on
the same transcript, compares the amino-acid change (bcftools ``790T>790M`` versus our
``p.T790M``). Usage: ``.venv/bin/python benchmarks/annotation/concordance.py /tmp/annot_bench [N]``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pysam
import pysam.bcftools

_AA = re.compile(r"^(\d+)([A-Z*])(?:>(\d+)([A-Z*]))?$")


def main() -> None:
    work = Path(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    ours = pysam.VariantFile(str(work / "out.vcf.gz"))
    local = work / "bcftools_csq_local.vcf.gz"
    if not local.exists():  # -l: one record at a time (no haplotype merging of neighbouring records)
        inp = next(work.glob("in_1000000.vcf.gz"), None) or sorted(work.glob("in_*.vcf.gz"))[-1]
        pysam.bcftools.csq("-l", "-f", str(work / "genome.fa.gz"), "-g", str(work / "mane.gff3"), "-p", "a",
                           "--force", "-O", "z", "-o", str(local), str(inp), catch_stdout=False)
    theirs = pysam.VariantFile(str(local))
    # Our output is split and left-normalised (records can move), so records are matched by ID;
    # SNVs never move. The first `limit` bcftools records are compared.
    wanted: dict[str, list[str]] = {}
    for i, b in enumerate(theirs):
        if i >= limit:
            break
        if len(b.ref) == 1 and len(b.alts[0]) == 1 and "BCSQ" in b.info:
            wanted[b.id] = list(b.info["BCSQ"])
    n = agree = 0
    kinds = {"missense": 0, "synonymous": 0, "stop_gained": 0}
    diffs = []
    for a in ours:
        bcsq = wanted.get(a.id)
        if bcsq is None or len(a.ref) != 1 or len(a.alts[0]) != 1:
            continue
        for bc in bcsq:
            f = bc.split("|")
            if len(f) < 6 or f[0] not in kinds:
                continue
            m = _AA.match(f[5])
            if not m:
                continue
            pos, ref, alt = m.group(1), m.group(2), m.group(4) or m.group(2)
            expect = f"p.{ref}{pos}{'=' if alt == ref else alt}"
            mine = [c.split("|") for c in a.info["CSQ"] if c.split("|")[4].split(".")[0] == f[2].split(".")[0]]
            got = mine[0][7].replace("%3D", "=") if mine else ""
            n += 1
            kinds[f[0]] += 1
            if got == expect:
                agree += 1
            elif len(diffs) < 10:
                diffs.append((a.chrom, a.pos, a.ref, a.alts[0], expect, got))
    print(f"SNV protein changes compared: {n:,} ({kinds}); identical: {agree:,} ({100 * agree / max(n, 1):.2f} %)")
    for d in diffs:
        print("  differs:", d)


if __name__ == "__main__":
    main()
