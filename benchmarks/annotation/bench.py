"""Annotation speed: ``unlock-atlas annotate`` versus ``bcftools csq`` (pysam) on the same VCF.

Makes a sorted 1,000,000-record VCF over the MANE transcripts of the panel genes (80 % SNVs,
10 % deletions of 1–15 bp, 10 % insertions of 1–12 bp; positions uniform over the exons ± 50 bp
and 20 % over whole genes; seed fixed), a chromosome-named sparse GRCh38 FASTA built from the
shared region FASTA, and a GFF3 of the same MANE transcripts (Ensembl style, what bcftools csq
reads). Times both tools end to end, one core each, and prints a Markdown table.

Usage::

    .venv/bin/python benchmarks/annotation/bench.py --work /tmp/annot_bench --records 1000000
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from pathlib import Path

import pysam
import pysam.bcftools

from unlock_atlas.annotation import Annotator, annotate_vcf
from unlock_atlas.paths import resolve_data_dir
from unlock_atlas.reference.genome import grch38_chromosomes
from unlock_atlas.reference.sparse import build_sparse_genome
from unlock_atlas.reference.transcripts import mane_by_gene


def write_gff3(gtf: Path, out: Path, genes: set[str]) -> None:
    """Ensembl-style GFF3 (gene / mRNA / exon / CDS with phase) of the MANE transcripts."""
    lines = ["##gff-version 3"]
    for gene, tx in sorted(mane_by_gene(gtf).items()):
        if gene not in genes or not tx.cds:
            continue
        gid = tx.gene_id.split(".")[0]
        tid = tx.transcript_id.split(".")[0]
        lines.append(f"{tx.chrom}\t.\tgene\t{tx.start}\t{tx.end}\t.\t{tx.strand}\t.\tID=gene:{gid};Name={gene};biotype=protein_coding")
        lines.append(f"{tx.chrom}\t.\tmRNA\t{tx.start}\t{tx.end}\t.\t{tx.strand}\t.\tID=transcript:{tid};Parent=gene:{gid};Name={gene};biotype=protein_coding")
        for s, e in tx.exons:
            lines.append(f"{tx.chrom}\t.\texon\t{s}\t{e}\t.\t{tx.strand}\t.\tParent=transcript:{tid}")
        done = 0
        segs = sorted(tx.cds) if tx.strand == "+" else sorted(tx.cds, reverse=True)
        for s, e in segs:
            phase = (3 - done % 3) % 3
            lines.append(f"{tx.chrom}\t.\tCDS\t{s}\t{e}\t.\t{tx.strand}\t{phase}\tID=CDS:{tid};Parent=transcript:{tid}")
            done += e - s + 1
    out.write_text("\n".join(lines) + "\n")


def write_vcf(ann: Annotator, out: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    models = ann.models
    exon_sites = [(m, s - 50, e + 50) for m in models for s, e in m.tx.exons]
    weights = [e - s for _, s, e in exon_sites]
    recs = []
    for _ in range(n):
        if rng.random() < 0.2:
            m = rng.choice(models)
            pos = rng.randint(m.tx.start, m.tx.end)
        else:
            m, s, e = rng.choices(exon_sites, weights)[0]
            pos = rng.randint(s, e)
        ref = m.base(pos)
        r = rng.random()
        if r < 0.8:
            alt = rng.choice([b for b in "ACGT" if b != ref])
        elif r < 0.9:
            ref = m.gseq(pos, pos + rng.randint(1, 15))
            alt = ref[0]
        else:
            alt = ref + "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 12)))
        recs.append((m.tx.chrom, pos, ref, alt))
    order = {c: i for i, c in enumerate(grch38_chromosomes())}
    recs.sort(key=lambda r: (order[r[0]], r[1]))
    with pysam.BGZFile(str(out), "wb") as fh:
        head = ["##fileformat=VCFv4.2"] + [f"##contig=<ID={c},length={ln}>" for c, ln in grch38_chromosomes().items()]
        head.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
        fh.write(("\n".join(head) + "\n").encode())
        fh.write("".join(f"{c}\t{p}\tv{i}\t{r}\t{a}\t.\tPASS\t.\n" for i, (c, p, r, a) in enumerate(recs)).encode())
    pysam.tabix_index(str(out), preset="vcf", force=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-bcftools", action="store_true")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    data = resolve_data_dir(None)
    gtf = data / "transcripts_grch38" / "panel_mane_select.GRCh38.gtf"
    fa = a.work / "genome.fa.gz"
    if not fa.exists():
        build_sparse_genome(data / "reference_grch38" / "panel_genes.GRCh38.fa", fa)
    t = time.perf_counter()
    ann = Annotator(fa, gtf)
    t_load = time.perf_counter() - t
    vcf = a.work / f"in_{a.records}.vcf.gz"
    if not vcf.exists():
        write_vcf(ann, vcf, a.records, a.seed)
    gff = a.work / "mane.gff3"
    write_gff3(gtf, gff, {m.tx.gene for m in ann.models})
    t = time.perf_counter()
    ann = Annotator(fa, gtf)
    stats = annotate_vcf(vcf, a.work / "out.vcf.gz", ann)
    ours = time.perf_counter() - t
    rows = [("unlock-atlas annotate (load + annotate + bgzip + tabix)", ours)]
    if not a.skip_bcftools:
        t = time.perf_counter()
        pysam.bcftools.csq("-f", str(fa), "-g", str(gff), "-p", "a", "--force", "-O", "z", "-o",
                           str(a.work / "bcftools_csq.vcf.gz"), str(vcf), catch_stdout=False)
        rows.append(("bcftools csq (pysam, same transcripts as GFF3)", time.perf_counter() - t))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"records: {stats['records']:,}  transcripts: {len(ann.models)}  model load: {t_load:.2f} s  peak RSS {peak:.0f} MiB\n")
    print("| tool | seconds | records/s | ratio to bcftools csq |")
    print("|---|---:|---:|---:|")
    ref = rows[-1][1] if len(rows) > 1 else None
    for name, sec in rows:
        ratio = f"{sec / ref:.2f}" if ref else "-"
        print(f"| {name} | {sec:.1f} | {stats['records'] / sec:,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
