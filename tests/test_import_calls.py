"""`unlock_atlas.importcalls`: variant calls of other callers read into the atlas' imported-calls table.

The VCFs are hand-written in the shapes those callers write (GATK Mutect2 4.x: ##tumor_sample and
AD Number=R; VarScan 2: AD = ALT count with RD; clinical exports with Ensembl-style contig names);
expected counts are the ones written into them. GRCh37 chr1 length 249,250,621 and GRCh38's
248,956,422 are the UCSC hg19 / hg38 chrom.sizes values.
"""

from __future__ import annotations

import pytest

from unlock_atlas.errors import InputError
from unlock_atlas.importcalls import read_vcf_calls

SHEET = {"T1", "L1", "N1"}
FMT_R = '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n' \
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n' \
        '##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fraction">\n' \
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'


def _vcf(tmp_path, name, body, contigs='##contig=<ID=chr7,length=159345973>\n', extra=""):
    p = tmp_path / name
    p.write_text("##fileformat=VCFv4.2\n" + contigs + extra + body)
    return p


def test_mutect2_paired_vcf_reads_the_tumour_column(tmp_path):
    p = _vcf(tmp_path, "m2.vcf", FMT_R + '##FILTER=<ID=weak_evidence,Description="weak">\n'
             "##tumor_sample=TUMOUR_LIB\n##normal_sample=N1\n"
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tN1\tTUMOUR_LIB\n"
             "chr7\t55181378\t.\tC\tT\t.\tPASS\t.\tGT:AD:DP:AF\t0/0:299,1:300:0.003\t0/1:960,40:1000:0.04\n"
             "chr7\t55174771\t.\tAGGAATTAAGAGAAGC\tA\t.\tweak_evidence\t.\tGT:AD:AF\t0/0:310,0:0\t0/1:360,120:0.25\n")
    df = read_vcf_calls(p, "L1", SHEET)
    assert df[["chrom", "pos", "ref", "alt", "ref_reads", "alt_reads", "depth"]].values.tolist() == [
        ["chr7", 55181378, "C", "T", 960, 40, 1000],
        ["chr7", 55174771, "AGGAATTAAGAGAAGC", "A", 360, 120, 480]]   # no DP: depth = sum of AD
    assert df["vaf"].round(4).tolist() == [0.04, 0.25] and df["filter"].tolist() == ["PASS", "weak_evidence"]
    assert (df["sample_id"] == "L1").all() and df["source_record"].iloc[0].startswith("line ")


def test_varscan_ad_rd_and_ensembl_contig_names(tmp_path):
    fmt = ('##FORMAT=<ID=RD,Number=1,Type=Integer,Description="Depth of reference-supporting bases">\n'
           '##FORMAT=<ID=AD,Number=1,Type=Integer,Description="Depth of variant-supporting bases">\n'
           '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">\n')
    p = _vcf(tmp_path, "vs.vcf", fmt + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tSample1\n"
             "7\t55181378\t.\tC\tT\t.\tPASS\t.\tRD:AD:DP\t485:15:500\n",
             contigs="##contig=<ID=7,length=159345973>\n")
    df = read_vcf_calls(p, "T1", SHEET)                      # the only column
    assert df[["chrom", "ref_reads", "alt_reads", "depth"]].values.tolist() == [["chr7", 485, 15, 500]]


def test_multiallelic_record_is_split_with_its_own_counts(tmp_path):
    p = _vcf(tmp_path, "ma.vcf", FMT_R + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT1\n"
             "chr7\t55181378\t.\tC\tT,A\t.\tPASS\t.\tAD:DP\t900,80,20:1000\n")
    df = read_vcf_calls(p, "T1", SHEET)
    assert df[["alt", "alt_reads"]].values.tolist() == [["T", 80], ["A", 20]]
    assert df["vaf"].round(3).tolist() == [0.08, 0.02]


def test_calls_on_grch37_are_refused_naming_the_contig(tmp_path):
    p = _vcf(tmp_path, "b37.vcf", FMT_R + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT1\n"
             "chr7\t55249071\t.\tC\tT\t.\tPASS\t.\tAD\t90,10\n",
             contigs="##contig=<ID=chr1,length=249250621>\n##contig=<ID=chr7,length=159138663>\n")
    with pytest.raises(InputError, match=r"chr1 has length 249,250,621.*GRCh37/hg19, not GRCh38") as e:
        read_vcf_calls(p, "T1", SHEET)
    assert e.value.problems[0].file == str(p)
    p2 = _vcf(tmp_path, "hg19.vcf", FMT_R + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT1\n",
              contigs="", extra="##reference=file:///ref/ucsc.hg19.fasta\n")
    with pytest.raises(InputError, match=r"##reference=.*hg19.* names another build"):
        read_vcf_calls(p2, "T1", SHEET)


def test_missing_allele_counts_name_file_and_record(tmp_path):
    fmt = '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n' \
          '##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fraction">\n'
    p = _vcf(tmp_path, "noad.vcf", fmt + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT1\n"
             "chr7\t55181378\t.\tC\tT\t.\tPASS\t.\tGT:AF\t0/1:0.04\n")
    with pytest.raises(InputError, match=r"chr7:55181378 C>T: sample 'T1' has no allele counts") as e:
        read_vcf_calls(p, "T1", SHEET)
    prob = e.value.problems[0]
    assert prob.file == str(p) and prob.row == 6 and prob.column == "FORMAT/AD"   # 5 header lines, record 1


def test_sample_not_in_sheet_and_swapped_columns_are_refused(tmp_path):
    p = _vcf(tmp_path, "t.vcf", FMT_R + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT1\n"
             "chr7\t55181378\t.\tC\tT\t.\tPASS\t.\tAD\t90,10\n")
    with pytest.raises(InputError, match=r"sample 'X9', which is not in samples.tsv"):
        read_vcf_calls(p, "X9", SHEET)
    with pytest.raises(InputError, match=r"column 'T1', another sample of the sheet.*sample 'L1'"):
        read_vcf_calls(p, "L1", SHEET)
    two = _vcf(tmp_path, "two.vcf", FMT_R + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\n")
    with pytest.raises(InputError, match=r"cannot tell which sample column holds sample 'T1' \(columns: A, B\)"):
        read_vcf_calls(two, "T1", SHEET)
    assert read_vcf_calls(two, "T1", SHEET, vcf_sample="B").empty


def test_bgzipped_vcf_gives_the_same_calls_and_line_numbers(tmp_path):
    import pysam

    p = _vcf(tmp_path, "t.vcf", FMT_R + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT1\n"
             "chr7\t55181378\t.\tC\tT\t.\tPASS\t.\tAD\t90,10\n")
    gz = tmp_path / "t.vcf.gz"
    pysam.tabix_compress(str(p), str(gz))
    plain, packed = read_vcf_calls(p, "T1", SHEET), read_vcf_calls(gz, "T1", SHEET)
    assert plain.drop(columns="source_file").equals(packed.drop(columns="source_file"))
    assert packed["source_record"].tolist() == ["line 8: chr7:55181378 C>T"]   # 7 header lines


class _Ref:
    """GRCh38 bases known from ClinVar's VCF representations (NM_005228.5 c.2235_2249del: chr7:55174771
    AGGAATTAAGAGAAGC>A; c.2369C>T: chr7:55181378 C), plus one hand-set base for the insertion rule."""

    SEQ = {"chr7": {55174771 + i: b for i, b in enumerate("AGGAATTAAGAGAAGC")} | {55181378: "C"},
           "chr2": {29207200: "C", 29207201: "G"}}

    def fetch(self, reference, start, end):
        return "".join(self.SEQ[reference].get(p, "N") for p in range(start + 1, end + 1))


def _maf(tmp_path, rows, cols=("Hugo_Symbol", "NCBI_Build", "Chromosome", "Start_Position", "End_Position",
                                 "Reference_Allele", "Tumor_Seq_Allele1", "Tumor_Seq_Allele2", "Tumor_Sample_Barcode",
                                 "t_depth", "t_ref_count", "t_alt_count")):
    p = tmp_path / "calls.maf"
    p.write_text("#version 2.4\n" + "\t".join(cols) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return p


def test_maf_round_trip_gives_back_the_exported_vcf_alleles(tmp_path):
    """The exporter's MAF (GDC / vcf2maf allele rules) read back: the atlas' VCF alleles and counts."""
    import pandas as pd

    from unlock_atlas.export import build_maf, write_maf
    from unlock_atlas.importcalls import read_maf_calls

    samples = pd.DataFrame([{"patient_id": "P1", "sample_id": s, "sample_type": t}
                            for s, t in (("T1", "tissue"), ("L1", "plasma"), ("N1", "normal"))])
    base = {"patient_id": "P1", "gene": "EGFR", "transcript": None, "refseq_transcript": None, "hgvsc": None,
            "hgvsp": None, "hgvsp_short": None, "consequence": "missense_variant", "status": "called",
            "filter": "PASS", "origin": "somatic", "kind": "snv"}
    v = pd.DataFrame([{**base, "sample_id": "L1", "sample_type": "plasma", "chrom": "chr7", "pos": 55181378,
                       "ref": "C", "alt": "T", "alt_reads": 40, "ref_reads": 960, "depth": 1000, "vaf": 0.04},
                      {**base, "sample_id": "T1", "sample_type": "tissue", "chrom": "chr7", "pos": 55174771,
                       "ref": "AGGAATTAAGAGAAGC", "alt": "A", "alt_reads": 120, "ref_reads": 360, "depth": 480,
                       "vaf": 0.25, "consequence": "inframe_deletion", "kind": "indel"},
                      {**base, "sample_id": "T1", "sample_type": "tissue", "chrom": "chr2", "pos": 29207200,
                       "ref": "C", "alt": "CTA", "alt_reads": 30, "ref_reads": 270, "depth": 300, "vaf": 0.1,
                       "consequence": "frameshift_variant", "kind": "indel"}])
    write_maf(build_maf(v, samples), tmp_path / "x.maf")
    got = read_maf_calls(tmp_path / "x.maf", SHEET, _Ref())
    key = ["sample_id", "chrom", "pos", "ref", "alt", "ref_reads", "alt_reads", "depth"]
    want = v.rename(columns={})[key].sort_values(key).reset_index(drop=True)
    assert got[key].sort_values(key).reset_index(drop=True).values.tolist() == want.values.tolist()


def test_maf_rows_that_cannot_be_imported_are_named(tmp_path):
    from unlock_atlas.importcalls import read_maf_calls

    p = _maf(tmp_path, [
        ("EGFR", "GRCh37", "7", 55249071, 55249071, "C", "C", "T", "T1", 100, 90, 10),       # line 3: build
        ("EGFR", "GRCh38", "chr7", 55181378, 55181378, "C", "C", "T", "X9", 100, 90, 10),    # line 4: not in sheet
        ("EGFR", "GRCh38", "chr7", 55181378, 55181378, "G", "G", "T", "T1", 100, 90, 10),    # line 5: ref mismatch
        ("EGFR", "GRCh38", "chr7", 55181378, 55181378, "C", "C", "T", "T1", 100, 90, 10),    # fine
    ])
    with pytest.raises(InputError) as e:
        read_maf_calls(p, SHEET, _Ref())
    got = [(pr.row, pr.column) for pr in e.value.problems]
    assert got == [(3, "NCBI_Build"), (4, "Tumor_Sample_Barcode"), (5, "Reference_Allele")]
    assert "GRCh38 has C" in str(e.value) and "'X9' is not in samples.tsv" in str(e.value)
    # the barcode mapped to a sheet sample is accepted
    ok = _maf(tmp_path, [("EGFR", "GRCh38", "chr7", 55181378, 55181378, "C", "C", "T", "TCGA-XX", "", 90, 10)])
    df = read_maf_calls(ok, SHEET, _Ref(), barcode_to_sample={"TCGA-XX": "T1"})
    assert df[["sample_id", "depth"]].values.tolist() == [["T1", 100]]          # no t_depth: 90 + 10
    with pytest.raises(InputError, match="MAF columns missing: t_alt_count"):
        read_maf_calls(_maf(tmp_path, [], cols=("Tumor_Sample_Barcode", "Chromosome", "Start_Position",
                                                "Reference_Allele", "Tumor_Seq_Allele2", "t_ref_count")), SHEET, _Ref())


M2 = "##source=Mutect2\n"
HDR1 = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{s}\n"


def _sample_vcf(tmp_path, sample, records, extra=M2):
    body = FMT_R + '##FILTER=<ID=weak_evidence,Description="weak">\n' + HDR1.format(s=sample) + "".join(records)
    return read_vcf_calls(_vcf(tmp_path, f"{sample}.vcf", body, extra=extra), sample, SHEET)


def test_patient_variants_genotype_every_allele_in_every_sample(tmp_path):
    import pandas as pd

    from unlock_atlas.contract.parts import conform
    from unlock_atlas.importcalls import patient_variants

    t1 = _sample_vcf(tmp_path, "T1", ["chr7\t55174771\t.\tAGGAATTAAGAGAAGC\tA\t.\tPASS\t.\tAD:DP\t360,120:480\n"])
    # L1: the caller saw 5 reads of the deletion but genotyped 0/0 (not called); T790M called (no GT: a call)
    l1 = _sample_vcf(tmp_path, "L1", ["chr7\t55174771\t.\tAGGAATTAAGAGAAGC\tA\t.\tweak_evidence\t.\tGT:AD:DP\t"
                                      "0/0:995,5:1000\n",
                                      "chr7\t55181378\t.\tC\tT\t.\tPASS\t.\tAD:DP\t960,40:1000\n"])
    types = {"T1": "tissue", "L1": "plasma", "N1": "normal"}
    df = patient_variants(pd.concat([t1, l1]), "P1", types)
    got = {(r.pos, r.sample_id): (r.status, r.alt_reads, r.depth) for r in df.itertuples()}
    assert got == {(55174771, "T1"): ("called", 120, 480), (55174771, "L1"): ("detected_below_threshold", 5, 1000),
                   (55174771, "N1"): ("not_covered", 0, 0),       # no calls file for the normal: no evidence
                   (55181378, "T1"): ("not_covered", 0, 0), (55181378, "L1"): ("called", 40, 1000),
                   (55181378, "N1"): ("not_covered", 0, 0)}
    assert set(df["filter"]) == {"PASS"} and set(df["origin"]) == {"somatic"}   # Mutect2: somatic candidates
    assert df.set_index(["pos", "sample_id"]).loc[(55174771, "T1"), "kind"] == "indel"
    # Wilson 95 % of 40 / 1000 (hand-computed): 0.0295 - 0.0540
    t790m = df[(df["pos"] == 55181378) & (df["sample_id"] == "L1")].iloc[0]
    assert (round(t790m["vaf_ci_low"], 4), round(t790m["vaf_ci_high"], 4), t790m["vaf"]) == (0.0295, 0.054, 0.04)
    assert df[df["depth"] == 0]["vaf"].isna().all()
    conform(df, "variants")   # a valid atlas variants part (before annotation)


def test_origin_is_what_the_callers_state(tmp_path):
    import pandas as pd

    from unlock_atlas.importcalls import patient_variants

    info = '##INFO=<ID=SS,Number=1,Type=String,Description="VarScan somatic status">\n' \
           '##INFO=<ID=STATUS,Number=1,Type=String,Description="VarDict status">\n'
    vs = _sample_vcf(tmp_path, "T1", ["chr7\t55181378\t.\tC\tT\t.\tPASS\tSS=2\tAD\t90,10\n",
                                      "chr7\t55181370\t.\tG\tA\t.\tPASS\tSS=1\tAD\t50,50\n"], extra=info)
    vd = _sample_vcf(tmp_path, "L1", ["chr7\t55181370\t.\tG\tA\t.\tPASS\tSTATUS=StrongSomatic\tAD\t500,500\n"],
                     extra=info)
    assert vs["stated_origin"].tolist() == ["somatic", "germline"] and vd["stated_origin"].tolist() == ["somatic"]
    df = patient_variants(pd.concat([vs, vd]), "P1", {"T1": "tissue", "L1": "plasma"})
    # germline in any file wins (a germline call is never a somatic one elsewhere)
    assert df.groupby("pos")["origin"].first().to_dict() == {55181370: "germline", 55181378: "somatic"}
    silent = _sample_vcf(tmp_path, "T1", ["chr7\t55181378\t.\tC\tT\t.\tPASS\t.\tAD\t90,10\n"], extra="")
    with pytest.raises(InputError, match=r"chr7:55181378 C>T: the caller states no origin") as e:
        patient_variants(silent, "P1", {"T1": "tissue"})
    assert e.value.problems[0].file.endswith("T1.vcf")
    assert set(patient_variants(silent, "P1", {"T1": "tissue"}, default_origin="somatic")["origin"]) == {"somatic"}


def test_import_cli_writes_the_calling_outputs(tmp_path):
    """`unlock-atlas import` writes what `unlock-atlas call` writes: a joint VCF (all the patient's samples) and a
    variants part the atlas accepts."""
    import pandas as pd
    import pysam

    from unlock_atlas.cli import main

    body = FMT_R + '##FILTER=<ID=weak_evidence,Description="weak">\n' + M2 + HDR1
    t1 = _vcf(tmp_path, "t1.vcf", body.format(s="T1") + "chr7\t55174771\t.\tAGGAATTAAGAGAAGC\tA\t.\tPASS\t.\tAD\t360,120\n")
    l1 = _vcf(tmp_path, "l1.vcf", body.format(s="LIB7") + "chr7\t55181378\t.\tC\tT\t.\tPASS\t.\tAD:DP\t960,40:1000\n")
    out, part = tmp_path / "P1.vcf.gz", tmp_path / "P1.parquet"
    assert main(["import", "--patient", "P1", "--samples", "T1=tissue", "L1=plasma", "N1=normal",
                 "--calls", f"T1={t1}", f"L1={l1}", "--calls-sample", "L1=LIB7", "-o", str(out),
                 "--table", str(part)]) == 0
    with pysam.VariantFile(str(out)) as vf:
        assert list(vf.header.samples) == ["T1", "L1", "N1"]
        recs = [(r.pos, r.samples["L1"]["AD"], r.samples["L1"]["ST"], r.info["ORIGIN"]) for r in vf]
    assert recs == [(55174771, (0, 0), "not_covered", "somatic"), (55181378, (960, 40), "called", "somatic")]
    assert (tmp_path / "P1.vcf.gz.tbi").exists()
    df = pd.read_parquet(part)
    assert len(df) == 6 and set(df["patient_id"]) == {"P1"}
    # a calls file for a sample not in the sheet is refused (exit 2, the InputError printed)
    assert main(["import", "--patient", "P1", "--samples", "T1=tissue", "--calls", f"X9={t1}", "-o", str(out),
                 "--table", str(part)]) == 2


def test_imported_calls_are_annotated_like_called_ones(tmp_path, region_fasta, mane_gtf):
    """The import outputs go through `unlock-atlas annotate` unchanged: EGFR exon-19 deletion and T790M get
    their MANE protein changes (ClinVar: NM_005228.5 c.2235_2249del p.E746_A750del, c.2369C>T p.T790M)."""
    import pandas as pd

    from unlock_atlas.cli import main

    t1 = _vcf(tmp_path, "t1.vcf", FMT_R + M2 + HDR1.format(s="T1")
              + "chr7\t55174771\t.\tAGGAATTAAGAGAAGC\tA\t.\tPASS\t.\tAD\t360,120\n"
              + "chr7\t55181378\t.\tC\tT\t.\tPASS\t.\tAD:DP\t960,40:1000\n")
    vcf, part = tmp_path / "P1.vcf.gz", tmp_path / "P1.parquet"
    assert main(["import", "--patient", "P1", "--samples", "T1=tissue", "N1=normal", "--calls", f"T1={t1}",
                 "-o", str(vcf), "--table", str(part)]) == 0
    assert main(["annotate", str(vcf), "-o", str(tmp_path / "ann.vcf.gz"), "--fasta", str(region_fasta),
                 "--gtf", str(mane_gtf), "--variants-table", str(part),
                 "--variants-out", str(tmp_path / "ann.parquet")]) == 0
    df = pd.read_parquet(tmp_path / "ann.parquet")
    t = df[df["sample_id"] == "T1"].set_index("pos")
    assert (t.loc[55174771, "hgvsp_short"], t.loc[55181378, "hgvsp_short"]) == ("p.E746_A750del", "p.T790M")
    assert set(t["gene"]) == {"EGFR"} and t.loc[55181378, "vaf"] == 0.04


def test_caller_status_from_genotype_and_unlock_st(tmp_path):
    fmt = FMT_R + '##FORMAT=<ID=ST,Number=1,Type=String,Description="status">\n'
    ma = read_vcf_calls(_vcf(tmp_path, "gt.vcf", FMT_R + HDR1.format(s="T1")
                             + "chr7\t55181378\t.\tC\tT,A\t.\tPASS\t.\tGT:AD\t0/2:900,80,20\n"), "T1", SHEET)
    assert ma[["alt", "caller_status"]].values.tolist() == [["T", "not_called"], ["A", "called"]]
    st = read_vcf_calls(_vcf(tmp_path, "st.vcf", fmt + HDR1.format(s="T1")
                             + "chr7\t55181378\t.\tC\tT\t.\tPASS\t.\tAD:ST\t998,2:not_detected\n"), "T1", SHEET)
    assert st["caller_status"].tolist() == ["not_detected"]


@pytest.mark.slow
def test_reimported_run_equals_its_called_variants(small_run):
    """The shared small run's own joint VCFs imported back: same alleles, counts, origin, filter and status."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "import" / "roundtrip.py"
    spec = importlib.util.spec_from_file_location("roundtrip", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    m = mod.compare(small_run)
    assert (m["_merge"] == "both").all() and len(m) > 0
    for col in ("alt_reads", "ref_reads", "depth", "origin", "filter", "status"):
        assert (m[f"{col}_called"].astype(str) == m[f"{col}_imported"].astype(str)).all(), col


def imported_rerun(run, out, patient, env, cores="2"):
    """Copy a finished run to ``out``, give ``patient``'s samples their own calls (per-sample VCFs split from the
    run's joint VCF) in samples.tsv, and rerun the workflow from calling on (`--forcerun call_variants`)."""
    import shutil
    import subprocess

    import pandas as pd
    import pysam
    import pysam.bcftools
    from conftest import BIN, REPO

    shutil.copytree(run, out, symlinks=True)
    (out / "calls").mkdir()
    vcf = out / "results" / "calling" / patient / f"{patient}.vcf.gz"
    with pysam.VariantFile(str(vcf)) as vf:
        cols = list(vf.header.samples)
    for s in cols:
        pysam.bcftools.view("-s", s, "-Oz", "-o", str(out / "calls" / f"{s}.vcf.gz"), str(vcf), catch_stdout=False)
    sheet = pd.read_csv(out / "config" / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet["calls"] = [f"calls/{s}.vcf.gz" if p == patient else "" for p, s in zip(sheet["patient_id"], sheet["sample_id"])]
    sheet.to_csv(out / "config" / "samples.tsv", sep="\t", index=False)
    return subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(out),
                           "--configfile", str(out / "config" / "config.yaml"), "--cores", cores,
                           "--rerun-triggers", "mtime", "--forcerun", "call_variants"],
                          capture_output=True, text=True, env=env, timeout=3000)


@pytest.mark.slow
def test_atlas_from_imported_calls_equals_the_bam_atlas(small_run, tmp_path):
    """Issue 20 item 3: one patient of the shared small run imported from per-sample VCFs (`calls` in
    samples.tsv) gives the same alterations and mechanisms as calling its BAMs; the only differences are the
    detection score and the tumour-informed columns, which need our background model (null for imported rows)."""
    from conftest import SMALL_ENV

    from unlock_atlas.atlas.diff import diff_atlases

    r = imported_rerun(small_run, tmp_path / "imported", "UNL001", SMALL_ENV)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    assert "imported alleles" in (tmp_path / "imported" / "logs" / "calling" / "UNL001.log").read_text()
    diffs, _ = diff_atlases(small_run / "results" / "atlas", tmp_path / "imported" / "results" / "atlas")
    changed = {d.table: dict(d.changed_columns) for d in diffs if d.added or d.removed or d.changed}
    # tumour-informed columns need the site background of our caller too: null for imported rows
    # (docs/import.md), so the per-variant TI test and the aggregated ctDNA test are not run on them
    ti_variants = {"detection_score", "background_error", "background_rho", "ti_p_value", "ti_status"}
    assert set(changed) <= {"variants", "ctdna"} and set(changed["variants"]) <= ti_variants, changed
    assert all(c.startswith("ti_") for c in changed.get("ctdna", {})), changed
