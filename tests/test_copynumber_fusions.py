"""Fusion detection from split reads (SA tag) and discordant pairs on a hand-built BAM whose
chimeric molecules are planted at known junctions (ALK with SOS1 standing in for EML4, which has
no sequence in the shared data), and on the demo scenario's simulator-planted PTEN-RET fusion."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pysam
import pytest
import yaml
from scipy.stats import binom

from unlock_atlas.cli import main
from unlock_atlas.copynumber.fusions import detect_fusions
from unlock_atlas.reference.genome import grch38_chromosomes
from unlock_atlas.reference.prepare import prepare_reference
from unlock_atlas.reference.transcripts import mane_by_gene

ALK_BP = 29_223_700      # last ALK base of the junction (1-based)
SOS1_BP = 39_000_001     # first SOS1 base of the junction (1-based)


def _read(h, name, chrom_id, start0, cigar, flag, mate=(None, 0), mapq=60, sa=None, tlen=0):
    a = pysam.AlignedSegment(h)
    a.query_name, a.reference_id, a.reference_start, a.cigarstring = name, chrom_id, start0, cigar
    n = sum(int(x) for x in __import__("re").findall(r"(\d+)[MIS=X]", cigar))
    a.query_sequence, a.query_qualities = "A" * n, pysam.qualitystring_to_array("I" * n)
    a.flag, a.mapping_quality = flag, mapq
    a.next_reference_id, a.next_reference_start, a.template_length = mate[0] if mate[0] is not None else -1, mate[1], tlen
    if sa:
        a.set_tag("SA", sa)
    return a


def test_split_reads_and_discordant_pairs_make_one_event(tmp_path: Path, mane_gtf: Path) -> None:
    chroms = grch38_chromosomes()
    header = pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "coordinate"},
                                              "SQ": [{"SN": c, "LN": chroms[c]} for c in ("chr2", "chr10")]})
    reads = []
    # 4 split reads: 100 bp of ALK ending at ALK_BP, then 50 bp of SOS1 starting at SOS1_BP
    for i in range(4):
        reads.append(_read(header, f"split{i}", 0, ALK_BP - 100, "100M50S", 0x1 | 0x40 | 0x20, (0, ALK_BP - 300),
                           sa=f"chr2,{SOS1_BP},+,100S50M,60,0;"))
    reads.append(_read(header, "splitdup", 0, ALK_BP - 100, "100M50S", 0x1 | 0x40 | 0x20 | 0x400, (0, ALK_BP - 300),
                       sa=f"chr2,{SOS1_BP},+,100S50M,60,0;"))                       # duplicate: ignored
    reads.append(_read(header, "splitlowq", 0, ALK_BP - 100, "100M50S", 0x1 | 0x40 | 0x20, (0, ALK_BP - 300),
                       sa=f"chr2,{SOS1_BP},+,100S50M,3,0;"))                        # SA MAPQ 3: ignored
    # 3 discordant pairs: read 1 in ALK before the junction, mate in SOS1 after it
    for i in range(3):
        reads.append(_read(header, f"pair{i}", 0, ALK_BP - 250 + 20 * i, "100M", 0x1 | 0x40 | 0x20,
                           (0, SOS1_BP + 150 + 10 * i)))
    # a lone ALK-RET pair: 1 fragment, not an event
    reads.append(_read(header, "lone", 0, ALK_BP - 5000, "100M", 0x1 | 0x40, (1, 43_100_000)))
    raw = tmp_path / "raw.bam"
    with pysam.AlignmentFile(str(raw), "wb", header=header) as out:
        for r in reads:
            out.write(r)
    bam = tmp_path / "s.bam"
    pysam.sort("-o", str(bam), str(raw))
    pysam.index(str(bam))
    mane = mane_by_gene(mane_gtf)
    genes = pd.DataFrame([{"gene": g, "chrom": t.chrom, "start": t.start, "end": t.end} for g, t in mane.items()])
    got = detect_fusions(bam, genes)
    assert len(got) == 1, got
    ev = got.iloc[0]
    assert (ev.chrom_a, ev.pos_a, ev.gene_a) == ("chr2", ALK_BP, "ALK")
    assert (ev.chrom_b, ev.pos_b, ev.gene_b) == ("chr2", SOS1_BP, "SOS1")
    assert (ev.split_reads, ev.discordant_pairs, ev.fragments) == (4, 3, 7)
    assert ev.breakpoint_source == "split_reads"


def test_fusions_cli_finds_nothing_without_chimeras_and_rejects_a_bad_gene_table(tmp_path: Path) -> None:
    import argparse

    import pytest

    from unlock_atlas.copynumber import _cli
    from unlock_atlas.errors import InputError

    chroms = grch38_chromosomes()
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr2", "LN": chroms["chr2"]}]}
    raw, bam = tmp_path / "raw.bam", tmp_path / "s.bam"
    with pysam.AlignmentFile(str(raw), "wb", header=header) as out:
        h = out.header
        for i in range(5):   # ordinary proper pairs 300 bp apart
            out.write(_read(h, f"p{i}", 0, ALK_BP + 10 * i, "100M", 0x1 | 0x2 | 0x40 | 0x20, (0, ALK_BP + 200), tlen=300))
    pysam.sort("-o", str(bam), str(raw))
    pysam.index(str(bam))
    genes = tmp_path / "genes.tsv"
    genes.write_text("gene\tchrom\tstart\tend\nALK\tchr2\t29192774\t29921586\n")
    p = argparse.ArgumentParser()
    _cli.register(p.add_subparsers())
    a = p.parse_args(["copynumber", "fusions", str(bam), "--genes", str(genes), "-o", str(tmp_path / "f.tsv")])
    assert a.func(a) == 0
    assert len(pd.read_csv(tmp_path / "f.tsv", sep="\t")) == 0
    genes.write_text("gene\tchrom\n")
    with pytest.raises(InputError, match="missing columns end, start"):
        a.func(a)


# --- the demo scenario's planted fusion, found by `unlock-atlas copynumber fusions` ----------------
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fusion_run(small_sim: Path, tmp_path_factory, region_fasta: Path, mane_gtf: Path) -> tuple[Path, Path]:
    """UNL001 (acquired PTEN-RET fusion at progression) in the session's small cohort (conftest
    ``small_sim``, seed 7, cached), and a reference prepared with the simulator's extra baits (RET intron 11)."""
    run, out = small_sim, tmp_path_factory.mktemp("fusion_ref")
    genes = yaml.safe_load((run / "config" / "config.yaml").read_text())["reference"]["panel_genes"]
    ref = prepare_reference(region_fasta, mane_gtf, out / "ref", panel_genes=genes,
                            panel_extra_bed=run / "config" / "panel_extra.bed")
    return run, ref.genes


def _fusions(run: Path, genes: Path, sid: str) -> pd.DataFrame:
    out = genes.parent / f"{sid}.fusions.tsv"  # beside the prepared reference, not in the shared cohort
    assert main(["copynumber", "fusions", str(run / "bams" / f"{sid}.bam"), "--genes", str(genes), "-o", str(out)]) == 0
    return pd.read_csv(out, sep="\t")


def _wild_type_spanning(bam: Path, chrom: str, pos: int, flank: int = 30) -> int:
    """Unique proper-pair templates covering ``flank`` bases on both sides of the junction before
    ``pos`` (the unrearranged molecules that could have shown it)."""
    n = 0
    with pysam.AlignmentFile(str(bam)) as fh:
        for r in fh.fetch(chrom, pos - 1000, pos + 1000):
            if r.is_read1 and r.is_proper_pair and not r.is_duplicate and r.template_length != 0:
                s = min(r.reference_start, r.next_reference_start)
                e = s + abs(r.template_length)
                n += s <= pos - 1 - flank and e >= pos - 1 + flank
    return n


def test_planted_fusion_found_with_partners_breakpoints_and_support(fusion_run: tuple[Path, Path]) -> None:
    run, genes = fusion_run
    raw = next(p for p in yaml.safe_load((ROOT / "resources" / "demo_cohort.yaml").read_text())["patients"]
               if p["id"] == "UNL001")
    fus = raw["fusions"][0]
    with open(run / "truth" / "fusions.tsv") as fh:
        truth = {r["sample_id"]: r for r in csv.DictReader(fh, delimiter="\t")}
    # the panel prepared with the extra baits tiles the RET breakpoint intron
    bed = pd.read_csv(genes.parent / "panel.bed", sep="\t", header=None, names=["chrom", "start", "end", "name"])
    assert ((bed.chrom == fus["chrom3"]) & (bed.start < fus["pos3"]) & (bed.end >= fus["pos3"]) & (bed.name == "RET")).any()

    got = _fusions(run, genes, "UNL001-T-PD")
    assert len(got) == 1, got
    ev = got.iloc[0]
    ends = {(ev.chrom_a, ev.gene_a): int(ev.pos_a), (ev.chrom_b, ev.gene_b): int(ev.pos_b)}
    assert set(ends) == {(fus["chrom5"], fus["gene5"]), (fus["chrom3"], fus["gene3"])}
    assert abs(ends[(fus["chrom5"], fus["gene5"])] - fus["pos5"]) <= 3
    assert abs(ends[(fus["chrom3"], fus["gene3"])] - fus["pos3"]) <= 3
    assert ev.breakpoint_source == "split_reads" and ev.split_reads >= 5 and ev.discordant_pairs >= 1
    # read support vs the planted fraction: among molecules with >= 30 bases on both sides of the RET
    # junction, a fraction tc * ccf / 2 (clonal model, one rearranged allele; purity and ccf from the
    # scenario) is chimeric; the few chimeras captured at the PTEN side (no bait there) add to it
    f3 = raw["samples"]["T-PD"]["purity"] * fus["ccf"]["T-PD"] / 2
    wt = _wild_type_spanning(run / "bams" / "UNL001-T-PD.bam", fus["chrom3"], fus["pos3"])
    n = wt + int(ev.fragments)
    lo, hi = binom.interval(0.999, n, f3)
    assert lo <= ev.fragments <= hi + 3, (ev.fragments, wt, f3)
    # ... and equals the simulator's count of detectable chimeric molecules (markdup may merge a pair)
    assert int(truth["UNL001-T-PD"]["detectable_molecules"]) - 2 <= ev.fragments <= int(
        truth["UNL001-T-PD"]["detectable_molecules"])

    for sid in ("UNL001-T-BL", "UNL001-N"):   # not planted: nothing found
        assert len(_fusions(run, genes, sid)) == 0, sid
    # plasma at tf 0.08: reported when >= 3 detectable molecules were planted, with the same partners
    pp = _fusions(run, genes, "UNL001-P-PD")
    if int(truth["UNL001-P-PD"]["detectable_molecules"]) >= 3:
        assert len(pp) == 1 and {pp.iloc[0].gene_a, pp.iloc[0].gene_b} == {"PTEN", "RET"}
    else:
        assert len(pp) == 0
