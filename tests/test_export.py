"""`unlock-atlas export maf|cbioportal` on a small hand-made atlas.

Expected values come from the specifications, not from the code: the GDC MAF specification
(https://docs.gdc.cancer.gov/Data/File_Formats/MAF_Format/: column order, '-' for the empty
allele), vcf2maf 1.6 (mskcc/vcf2maf vcf2maf.pl: indel Start/End, GetVariantClassification,
HGVSp_Short for silent and splice-site variants), ClinVar (GRCh38 locations) and cBioPortal's
File Formats page (https://docs.cbioportal.org/file-formats/: clinical 4-row header, discrete
CNA levels, meta fields, case-list suffixes).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from unlock_atlas.errors import InputError
from unlock_atlas.export import maf_alleles, variant_classification
from unlock_atlas.export.maf import GDC_COLUMNS, hgvsp_short_maf


def _variant(sample, stype, chrom, pos, ref, alt, gene, csq, hgvsc, hgvsp, short, alt_reads, depth,
             status="called", origin="somatic"):
    return {"patient_id": "P1", "sample_id": sample, "sample_type": stype, "chrom": chrom, "pos": pos, "ref": ref,
            "alt": alt, "kind": "snv" if len(ref) == len(alt) == 1 else "indel", "gene": gene,
            "transcript": "ENST00000275493.7" if gene == "EGFR" else None, "refseq_transcript": None,
            "hgvsc": hgvsc, "hgvsp": hgvsp, "hgvsp_short": short, "consequence": csq, "alt_reads": alt_reads,
            "ref_reads": depth - alt_reads, "depth": depth, "vaf": alt_reads / depth, "vaf_ci_low": None,
            "vaf_ci_high": None, "detection_score": 90.0, "status": status, "filter": "PASS", "origin": origin}


T790M = ("chr7", 55181378, "C", "T", "EGFR", "missense_variant", "c.2369C>T", "p.Thr790Met", "p.T790M")
EX19 = ("chr7", 55174771, "AGGAATTAAGAGAAGC", "A", "EGFR", "inframe_deletion", "c.2235_2249del",
        "p.Glu746_Ala750del", "p.E746_A750del")


@pytest.fixture()
def atlas_dir(tmp_path):
    d = tmp_path / "atlas"
    d.mkdir()
    patients = pd.DataFrame([{"patient_id": "P1", "tumour_type": "NSCLC", "drug": "osimertinib",
                              "drug_class": "EGFR TKI", "targets": "EGFR", "progression_day": 300,
                              "best_response": "PR", "resistance_type": "acquired", "early_trial_after": None,
                              "n_samples": 3, "n_tissue": 1, "n_plasma": 1, "has_normal": True}])
    samples = pd.DataFrame([
        {"patient_id": "P1", "sample_id": "T1", "sample_type": "tissue", "timepoint": "baseline",
         "collection_day": -7, "mean_depth": 500.0, "qc_status": "pass", "purity": 0.6, "histology": "adenocarcinoma"},
        {"patient_id": "P1", "sample_id": "L1", "sample_type": "plasma", "timepoint": "progression",
         "collection_day": 300, "mean_depth": 1500.0, "qc_status": "pass", "purity": None, "histology": None},
        {"patient_id": "P1", "sample_id": "N1", "sample_type": "normal", "timepoint": None,
         "collection_day": -7, "mean_depth": 400.0, "qc_status": "pass", "purity": None, "histology": None},
    ])
    variants = pd.DataFrame([
        _variant("L1", "plasma", *T790M, 40, 1000),
        _variant("T1", "tissue", *T790M, 0, 500, status="not_detected"),
        _variant("N1", "normal", *T790M, 1, 300, status="not_detected"),
        _variant("T1", "tissue", *EX19, 120, 480),
        _variant("N1", "normal", *EX19, 0, 310, status="not_detected"),
        _variant("T1", "tissue", "chr7", 55181370, "G", "A", "EGFR", "synonymous_variant", "c.2361G>A",
                 "p.Gln787=", "p.Q787=", 250, 500, origin="germline"),
    ])
    copy_number = pd.DataFrame([
        {"patient_id": "P1", "sample_id": s, "sample_type": t, "gene": g, "chrom": "chr7", "n_targets": 10, "call": c}
        for s, t, g, c in [("T1", "tissue", "MET", "amplification"), ("L1", "plasma", "MET", "gain"),
                           ("T1", "tissue", "CDKN2A", "deep_deletion"), ("L1", "plasma", "CDKN2A", None),
                           ("N1", "normal", "MET", "neutral")]])
    tables = {"patients": patients, "samples": samples, "variants": variants, "copy_number": copy_number}
    for name, df in tables.items():
        df.to_parquet(d / f"{name}.parquet", index=False)
    (d / "manifest.json").write_text(json.dumps({"schema_version": "1.0", "tables": list(tables)}))
    return d


def test_maf_alleles_follow_gdc_and_vcf2maf():
    # ClinVar NM_005228.5:c.2235_2249del: GRCh38 chr7:55174772-55174786 (VCF 55174771 with anchor A)
    assert maf_alleles(*EX19[1:4]) == (55174772, 55174786, "GGAATTAAGAGAAGC", "-", "DEL")
    # vcf2maf insertion: Start = anchor, End = anchor + 1, Reference_Allele '-'
    assert maf_alleles(29207200, "C", "CTA") == (29207200, 29207201, "-", "TA", "INS")
    assert maf_alleles(55181378, "C", "T") == (55181378, 55181378, "C", "T", "SNP")
    assert maf_alleles(100, "AC", "GT")[4] == "DNP" and maf_alleles(100, "ACGT", "GTCA")[4] == "ONP"


@pytest.mark.parametrize("csq,vtype,expected", [
    ("stop_gained", "SNP", "Nonsense_Mutation"), ("frameshift_variant", "DEL", "Frame_Shift_Del"),
    ("frameshift_variant", "INS", "Frame_Shift_Ins"), ("inframe_deletion", "DEL", "In_Frame_Del"),
    ("splice_donor_variant&intron_variant", "SNP", "Splice_Site"),
    ("splice_region_variant&intron_variant", "SNP", "Splice_Region"), ("synonymous_variant", "SNP", "Silent"),
    ("5_prime_UTR_variant", "SNP", "5'UTR"), ("upstream_gene_variant", "SNP", "5'Flank"),
    ("downstream_gene_variant", "SNP", "3'Flank"), ("start_lost", "SNP", "Translation_Start_Site"),
    ("stop_lost", "SNP", "Nonstop_Mutation"), (None, "SNP", "IGR"),
])
def test_variant_classification_is_vcf2maf(csq, vtype, expected):
    assert variant_classification(csq, vtype) == expected


def test_hgvsp_short_vcf2maf_forms():
    # TP53 c.375+1G>A (ClinVar, splice donor) -> vcf2maf p.X125_splice; synonymous -> p.Q787Q
    assert hgvsp_short_maf("", "c.375+1G>A", "splice_donor_variant") == "p.X125_splice"
    assert hgvsp_short_maf("p.Q787=", "c.2361G>A", "synonymous_variant") == "p.Q787Q"
    assert hgvsp_short_maf("p.T790M", "c.2369C>T", "missense_variant") == "p.T790M"


def test_hgvsp_short_of_intronic_splice_region_variant():
    # Genome Nexus ProteinChangeResolver (cBioPortal's annotator): splice_region_variant without a protein
    # change -> p.X{ceil(c/3)}_splice; RB1 c.137+4A>G -> codon 46 (137 / 3 = 45.7). Without it cBioPortal's
    # validator warns "No Amino_Acid_Change or HGVSp_Short value" and shows a generic "MUTATED".
    assert hgvsp_short_maf("", "c.137+4A>G", "splice_region_variant&intron_variant") == "p.X46_splice"
    assert hgvsp_short_maf("", "c.219-5del", "splice_region_variant&intron_variant") == "p.X73_splice"
    # an exonic splice-region variant keeps its protein change; a plain intron variant gets none
    assert hgvsp_short_maf("p.Q787=", "c.2361G>A", "splice_region_variant&synonymous_variant") == "p.Q787Q"
    assert hgvsp_short_maf("", "c.1201-13T>A", "intron_variant") == ""


def test_export_maf_cli(atlas_dir, tmp_path):
    from unlock_atlas.cli import main

    out = tmp_path / "cohort.maf"
    assert main(["export", "maf", str(atlas_dir), "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "#version 2.4"
    df = pd.read_csv(out, sep="\t", comment="#", dtype=str, keep_default_na=False)
    assert list(df.columns[:34]) == GDC_COLUMNS
    # default: called somatic only -> T790M in L1 and the exon-19 deletion in T1 (germline synonymous dropped)
    got = df.set_index("Tumor_Sample_Barcode")
    assert sorted(df["Tumor_Sample_Barcode"]) == ["L1", "T1"]
    t790m = got.loc["L1"]
    assert (t790m["Hugo_Symbol"], t790m["Chromosome"], t790m["Start_Position"], t790m["Variant_Classification"],
            t790m["HGVSp_Short"], t790m["t_alt_count"], t790m["t_ref_count"], t790m["t_depth"],
            t790m["Matched_Norm_Sample_Barcode"], t790m["n_alt_count"], t790m["n_depth"]) == (
        "EGFR", "chr7", "55181378", "Missense_Mutation", "p.T790M", "40", "960", "1000", "N1", "1", "300")
    # NCBI Gene 1956 = EGFR; UniProtKB P00533 = EGFR_HUMAN (resources/export/gene_ids.tsv)
    assert (t790m["Entrez_Gene_Id"], t790m["SWISSPROT"]) == ("1956", "P00533")
    ex19 = got.loc["T1"]
    assert (ex19["Start_Position"], ex19["End_Position"], ex19["Reference_Allele"], ex19["Tumor_Seq_Allele2"],
            ex19["Variant_Type"], ex19["Variant_Classification"]) == (
        "55174772", "55174786", "GGAATTAAGAGAAGC", "-", "DEL", "In_Frame_Del")
    # --origin germline picks the synonymous variant, written vcf2maf's way
    assert main(["export", "maf", str(atlas_dir), "-o", str(out), "--origin", "germline"]) == 0
    g = pd.read_csv(out, sep="\t", comment="#", dtype=str, keep_default_na=False)
    assert g[["HGVSp_Short", "Variant_Classification", "Mutation_Status"]].values.tolist() == [
        ["p.Q787Q", "Silent", "Germline"]]
    assert main(["export", "maf", str(atlas_dir), "-o", str(out), "--origin", "bogus"]) == 2


def test_export_cbioportal(atlas_dir, tmp_path):
    from unlock_atlas.cli import main

    out = tmp_path / "study"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier export")
    assert main(["export", "cbioportal", str(atlas_dir), "-o", str(out), "--study-id", "lung_unlock"]) == 0
    assert not (out / "stale.txt").exists()  # replaced whole
    meta = dict(line.split(": ", 1) for line in (out / "meta_study.txt").read_text().splitlines())
    assert meta["cancer_study_identifier"] == "lung_unlock" and meta["type_of_cancer"] == "mixed"
    assert meta["reference_genome"] == "hg38" and meta["add_global_case_list"] == "true"
    # clinical: 4 '#' rows (names, descriptions, datatypes, priorities), then attribute names, then data
    sample_lines = (out / "data_clinical_sample.txt").read_text().splitlines()
    assert all(line.startswith("#") for line in sample_lines[:4]) and not sample_lines[4].startswith("#")
    header = sample_lines[4].split("\t")
    assert header[:2] == ["PATIENT_ID", "SAMPLE_ID"]
    assert set(sample_lines[2][1:].split("\t")) <= {"STRING", "NUMBER", "BOOLEAN"}
    rows = [dict(zip(header, line.split("\t"))) for line in sample_lines[5:]]
    assert [r["SAMPLE_ID"] for r in rows] == ["T1", "L1"]           # the normal is not a cBioPortal sample
    assert rows[0]["COLLECTION_DAY"] == "-7" and rows[1]["PURITY"] == "NA"
    patient = (out / "data_clinical_patient.txt").read_text().splitlines()
    prow = dict(zip(patient[4].split("\t"), patient[5].split("\t")))
    assert (prow["PATIENT_ID"], prow["PROGRESSION_DAY"], prow["HAS_NORMAL"], prow["EARLY_TRIAL_AFTER"]) == (
        "P1", "300", "TRUE", "NA")
    # survival pairs (cBioPortal: *_STATUS "0:..."/"1:...", *_MONTHS numbers): progression at day 300 is
    # 300 / 30.4375 = 9.86 months; no death / disease-free data in the atlas -> NA (not a missing column)
    assert (prow["PFS_STATUS"], prow["PFS_MONTHS"]) == ("1:PROGRESSION", "9.86")
    assert [prow[c] for c in ("OS_STATUS", "OS_MONTHS", "DFS_STATUS", "DFS_MONTHS")] == ["NA"] * 4
    for banned in ("MUTATION_COUNT", "FRACTION_GENOME_ALTERED"):
        assert banned not in patient[4] and banned not in sample_lines[4]
    # discrete CNA: -2 deep deletion ... 2 amplification (cBioPortal / GISTIC levels)
    cna = pd.read_csv(out / "data_cna.txt", sep="\t", dtype=str, keep_default_na=False).set_index("Hugo_Symbol")
    assert list(cna.columns) == ["Entrez_Gene_Id", "T1", "L1"]
    assert cna.loc["MET", "Entrez_Gene_Id"] == "4233" and cna.loc["CDKN2A", "Entrez_Gene_Id"] == "1029"  # NCBI Gene
    cna = cna.drop(columns="Entrez_Gene_Id")
    assert cna.loc["MET"].tolist() == ["2", "1"] and cna.loc["CDKN2A"].tolist() == ["-2", "NA"]
    cmeta = (out / "meta_cna.txt").read_text()
    assert "genetic_alteration_type: COPY_NUMBER_ALTERATION\ndatatype: DISCRETE\nstable_id: gistic\n" in cmeta
    mmeta = (out / "meta_mutations.txt").read_text()
    assert "genetic_alteration_type: MUTATION_EXTENDED\ndatatype: MAF\nstable_id: mutations\n" in mmeta
    assert "swissprot_identifier: accession\n" in mmeta  # SWISSPROT holds accessions (P00533), not names
    muts = pd.read_csv(out / "data_mutations.txt", sep="\t", dtype=str, keep_default_na=False)
    assert sorted(muts["Tumor_Sample_Barcode"]) == ["L1", "T1"] and set(muts["Chromosome"]) == {"7"}
    lists = {p.name: dict(line.split(": ", 1) for line in p.read_text().splitlines())
             for p in (out / "case_lists").iterdir()}
    assert lists["cases_sequenced.txt"]["stable_id"] == "lung_unlock_sequenced"
    assert lists["cases_cna.txt"]["stable_id"] == "lung_unlock_cna"
    assert lists["cases_cnaseq.txt"]["case_list_ids"] == "T1\tL1"
    spec = (out / "data_timeline_specimen.txt").read_text().splitlines()
    assert spec[0].split("\t")[:4] == ["PATIENT_ID", "START_DATE", "STOP_DATE", "EVENT_TYPE"]
    assert spec[1].split("\t")[:5] == ["P1", "-7", "", "SPECIMEN", "T1"]


def test_cbioportal_rejects_ids_it_cannot_load(atlas_dir, tmp_path):
    from unlock_atlas import load_atlas
    from unlock_atlas.export import write_study

    samples = pd.read_parquet(atlas_dir / "samples.parquet")
    samples.loc[0, "sample_id"] = "T 1/a"
    samples.to_parquet(atlas_dir / "samples.parquet", index=False)
    with pytest.raises(InputError, match="T 1/a"):
        write_study(load_atlas(atlas_dir), tmp_path / "study")
    assert not (tmp_path / "study").exists()


def _validator():
    """benchmarks/export/cbioportal_validate.py, or a skip saying why cBioPortal's validator is absent."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "export" / "cbioportal_validate.py"
    spec = importlib.util.spec_from_file_location("cbioportal_validate", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclass looks the module up by name
    spec.loader.exec_module(mod)
    if mod.validator_script() is None:
        pytest.skip(f"cBioPortal validateData.py not available: no cache at {mod.cache_dir()} and no cbioportal-core "
                    f"git mirror (set CBIOPORTAL_CORE_GIT to `git clone --bare {mod.REPOSITORY}`)")
    return mod


def test_cbioportal_validator_accepts_the_study(atlas_dir, tmp_path):
    """cBioPortal's own validateData.py (offline, -n, pinned cbioportal-core commit): 0 errors, 0 warnings."""
    from unlock_atlas import load_atlas
    from unlock_atlas.export import write_study

    mod = _validator()
    write_study(load_atlas(atlas_dir), tmp_path / "study", study_id="lung_unlock")
    res = mod.validate(tmp_path / "study")
    assert res.returncode in (0, 3), res.output
    assert (res.errors, res.warnings) == ([], []), res.output
    assert len(res.mode_warnings) == 4  # the checks -n skips (cancer types, genes, gene sets, gene panels)
    assert "data_mutations.txt: Validation of file complete" in res.output
    assert "data_cna.txt: Validation of file complete" in res.output


@pytest.mark.slow
def test_demo_study_passes_cbioportal_validator(demo_run):
    """The demo's results/export/cbioportal/ (written by the workflow) through cBioPortal's validator."""
    mod = _validator()
    res = mod.validate(demo_run / "results" / "export" / "cbioportal")
    assert (res.errors, res.warnings) == ([], []), res.output


def test_gene_ids_table_matches_ncbi_and_uniprot():
    # NCBI Gene / UniProtKB entries (independent of the builder): EGFR 1956 P00533, KRAS 3845 P01116,
    # TP53 7157 P04637, BRAF 673 P15056; genes without sequence in the shared data have no accession
    from unlock_atlas.export.genes import entrez_id, gene_ids, uniprot_accession

    assert [(entrez_id(g), uniprot_accession(g)) for g in ("EGFR", "KRAS", "TP53", "BRAF")] == [
        ("1956", "P00533"), ("3845", "P01116"), ("7157", "P04637"), ("673", "P15056")]
    assert uniprot_accession("ERBB2") == "" and entrez_id("ERBB2") == "2064"
    assert entrez_id("NOT_A_GENE") == "" and len(gene_ids()) == 54  # the 54 MANE Select genes of the summary


def test_maf_follows_the_gdc_column_specification(atlas_dir, tmp_path):
    """Every row the exporter writes, for every status/origin, against resources/export/gdc_maf_columns.tsv
    (GDC MAF v1.0.0 + TCGA MAF 2.4.1 null/enumeration rules)."""
    from unlock_atlas.cli import main
    from unlock_atlas.export.maf_spec import check_maf

    out = tmp_path / "all.maf"
    assert main(["export", "maf", str(atlas_dir), "-o", str(out), "--status", "called,not_detected",
                 "--origin", "somatic,germline"]) == 0
    df = pd.read_csv(out, sep="\t", comment="#", dtype=str, keep_default_na=False)
    assert len(df) == 4 and check_maf(df) == []  # T790M in L1 and T1 (not detected), exon-19 del, germline syn
    # TCGA 2.4.1: Validation_Status not null (Untested), then Validation_Method 'none'; Sequence_Source from
    # the SRA 1.5 library strategies ('Targeted Sequencing' is not one); Mutation_Status enumerated
    assert set(df["Validation_Status"]) == {"Untested"} and set(df["Validation_Method"]) == {"none"}
    assert set(df["Sequence_Source"]) == {"Other"}
    assert sorted(df["Mutation_Status"]) == ["Germline", "Somatic", "Somatic", "Somatic"]


def test_maf_status_of_every_atlas_origin_is_a_specification_value():
    from unlock_atlas.contract.vocab import VARIANT_ORIGINS
    from unlock_atlas.export.maf import MUTATION_STATUS
    from unlock_atlas.export.maf_spec import maf_spec

    allowed = maf_spec().set_index("column").loc["Mutation_Status", "allowed"].split(",")
    assert set(MUTATION_STATUS) == set(VARIANT_ORIGINS) and set(MUTATION_STATUS.values()) <= set(allowed)
    # clonal haematopoiesis is somatic (in blood); an artefact is no mutation: TCGA 'None'
    assert (MUTATION_STATUS["chip"], MUTATION_STATUS["artefact"]) == ("Somatic", "None")


def test_maf_spec_check_reports_violations(atlas_dir):
    """The checker fails on values the specification does not allow (so a passing check means something)."""
    from unlock_atlas import load_atlas
    from unlock_atlas.export import build_maf
    from unlock_atlas.export.maf_spec import check_maf

    atlas = load_atlas(atlas_dir)
    good = build_maf(atlas.table("variants"), atlas.table("samples"))
    assert check_maf(good) == []
    bad = good.copy()
    bad.loc[0, "Variant_Classification"] = "Missense"          # not an enumerated class
    bad.loc[0, "Chromosome"] = "7"                             # GDC GRCh38 MAFs write chr7
    bad.loc[0, "Reference_Allele"] = "N"                       # A, C, G, T or '-'
    bad.loc[1, "Entrez_Gene_Id"] = ""                          # not null ('0' for no gene)
    bad.loc[1, "SWISSPROT"] = "EGFR_HUMAN"                     # an entry name, not an accession
    problems = check_maf(bad)
    assert [p.split(":")[0] for p in problems] == ["Entrez_Gene_Id", "Chromosome", "Variant_Classification",
                                                   "Reference_Allele", "SWISSPROT"]
    assert "columns 1-" in check_maf(good.drop(columns="Strand"))[0]


def test_pfs_is_censored_at_the_last_tumour_sample_when_not_progressed():
    # a patient without progression: censored (0:CENSORED) at the last tumour sample, day 120 -> 120 / 30.4375
    # = 3.94 months; a progressed patient: 1:PROGRESSION at the progression day (61 -> 2.0 months)
    from unlock_atlas.export.cbioportal import with_pfs

    patients = pd.DataFrame({"patient_id": ["A", "B"], "progression_day": pd.array([None, 61], dtype="Int32")})
    tumour = pd.DataFrame({"patient_id": ["A", "A", "B"], "collection_day": [-3, 120, 0]})
    got = with_pfs(patients, tumour)
    assert got[["pfs_status", "pfs_months"]].values.tolist() == [["0:CENSORED", 3.94], ["1:PROGRESSION", 2.0]]
