"""Bad-input catalogue (issue 10) -- the cases tests/test_inputs.py and the stage tests did not cover.

Every case must give a clear error naming the file and the record (sheet line, column), no
traceback, and nothing half-written. docs/identity.md ("Bad-input catalogue") maps each case of
the issue to its test. Fixtures reuse tests/test_inputs.py's run directory (header-only, indexed
BAMs with GRCh38 lengths).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pysam
import pytest
from conftest import BIN, REPO, run_cmd
from test_inputs import GRCH38, PATIENTS, SAMPLES, edit_patients, edit_samples, problems_of, run_dir, write_bam, write_tsv  # noqa: F401

D = Path(__file__).resolve().parent / "data"


def _only(exc, column: str):
    probs = [p for p in exc.problems if p.column == column]
    assert len(probs) == 1, exc.render()
    return probs[0]


def test_truncated_bam_is_caught_before_any_job(run_dir: Path) -> None:
    bam = run_dir / "bams" / "P01-T0.bam"
    bam.write_bytes(bam.read_bytes()[:-28])          # drop the 28-byte BGZF EOF block
    p = _only(problems_of(run_dir), "bam")
    assert p.file == "config/samples.tsv" and p.row == 3
    assert "P01-T0.bam" in p.message and "truncated" in p.message and "end-of-file" in p.message


def test_empty_bam_file(run_dir: Path) -> None:
    (run_dir / "bams" / "P02-C1.bam").write_bytes(b"")
    p = _only(problems_of(run_dir), "bam")
    assert p.row == 6 and "P02-C1.bam" in p.message and "empty (0 bytes)" in p.message


def test_unsorted_bam(run_dir: Path) -> None:
    write_bam(run_dir / "bams" / "P01-C3.bam", GRCH38, so="unsorted", index=None)
    text = problems_of(run_dir).render()
    assert "samples.tsv, line 4, column 'bam'" in text and "not sorted (@HD SO:unsorted)" in text
    assert "samtools sort" in text


def test_zero_coverage_sample_fails_qc_with_the_reason(run_dir: Path, tmp_path: Path) -> None:
    """A BAM with a header but no read on the panel validates (it is a BAM) and then FAILS QC, saying why."""
    from unlock_atlas.atlas.build import DEFAULT_QC_THRESHOLDS, qc_status
    from unlock_atlas.qc.metrics import bam_qc

    bed = tmp_path / "panel.bed"
    bed.write_text("chr7\t55181300\t55181500\tEGFR\nchr12\t25245200\t25245400\tKRAS\n")
    m = bam_qc(run_dir / "bams" / "P01-T0.bam", bed, "P01-T0")
    assert m["mean_target_depth"] == 0 and m["zero_coverage_targets"] == 2
    status, reasons = qc_status("tissue", m, DEFAULT_QC_THRESHOLDS)
    assert status == "fail" and any("2 of 2 targets without coverage" in r for r in reasons)


@pytest.mark.parametrize(("content", "words"), [(b"", "empty (0 bytes)"), (b"PK\x03\x04not hdf5" * 10, "not an HDF5 file")])
def test_corrupt_or_empty_scrna_file(run_dir: Path, content: bytes, words: str) -> None:
    (run_dir / "scrna").mkdir()
    (run_dir / "scrna" / "T0.h5ad").write_bytes(content)
    rows = [list(r) + [""] for r in SAMPLES]
    rows[0][-1] = "scrna"
    rows[2][-1] = "scrna/T0.h5ad"
    write_tsv(run_dir / "config" / "samples.tsv", rows)
    p = _only(problems_of(run_dir), "scrna")
    assert p.row == 3 and "T0.h5ad" in p.message and words in p.message


def test_valid_h5ad_passes_the_signature_check(run_dir: Path, tmp_path: Path) -> None:
    import anndata
    import numpy as np

    (run_dir / "scrna").mkdir()
    anndata.AnnData(np.ones((3, 2), dtype=np.float32)).write_h5ad(run_dir / "scrna" / "T0.h5ad")
    rows = [list(r) + [""] for r in SAMPLES]
    rows[0][-1], rows[2][-1] = "scrna", "scrna/T0.h5ad"
    write_tsv(run_dir / "config" / "samples.tsv", rows)
    from unlock_atlas.inputs import load_run

    assert load_run(run_dir / "config" / "config.yaml", run_dir).samples["scrna"].notna().sum() == 1


def test_duplicate_patient_rows_name_both_lines(run_dir: Path) -> None:
    rows = [list(r) for r in PATIENTS] + [list(PATIENTS[1])]
    write_tsv(run_dir / "config" / "patients.tsv", rows)
    p = _only(problems_of(run_dir), "patient_id")
    assert p.file == "config/patients.tsv" and "'P01' appears on lines 2, 4" in p.message and p.row == 4


def test_paths_with_spaces_load(run_dir: Path, tmp_path: Path) -> None:
    """A run directory and BAM names with spaces are fine (the workflow quotes every path: {x:q});
    tests/test_faults.py runs the whole workflow in a directory named 'swap run'."""
    from unlock_atlas.inputs import load_run

    spaced = tmp_path / "my run dir"
    run_dir.rename(spaced)
    (spaced / "bams" / "P01-T0.bam").rename(spaced / "bams" / "P01 T0.bam")
    (spaced / "bams" / "P01-T0.bam.bai").rename(spaced / "bams" / "P01 T0.bam.bai")
    edit_samples(spaced, 2, "bam", "bams/P01 T0.bam")
    run = load_run(spaced / "config" / "config.yaml", spaced)
    assert run.samples.loc[1, "bam"] == str(spaced / "bams" / "P01 T0.bam")


def test_shell_metacharacters_in_ids_stop_the_workflow_before_any_shell(run_dir: Path) -> None:
    canary = run_dir / "PWNED"
    edit_samples(run_dir, 2, "sample_id", f"T0;touch {canary}")
    r = run_cmd([BIN / "snakemake", "-s", REPO / "Snakefile", "--directory", run_dir, "--configfile",
                 run_dir / "config" / "config.yaml", "--cores", "1"], cwd=run_dir.parent, timeout=300)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "samples.tsv, line 3, column 'sample_id'" in err and "';'" in err
    assert "Traceback" not in err and not canary.exists() and not (run_dir / "results" / "atlas").exists()


def test_multiallelic_and_symbolic_vcf_alleles(tmp_path: Path, region_fasta: Path, mane_gtf: Path) -> None:
    """Multi-allelic records are split per ALT and annotated; symbolic alleles are kept with an empty CSQ."""
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr12,length=133275309>\n"
                   '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="SV type">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   "chr12\t25245350\tm\tC\tT,A\t.\tPASS\t.\n"
                   "chr12\t25245360\tsv\tN\t<DEL>\t.\tPASS\tSVTYPE=DEL\n"
                   "chr12\t25245380\tstar\tA\t*\t.\tPASS\t.\n")
    out = tmp_path / "out.vcf.gz"
    r = subprocess.run([str(BIN / "unlock-atlas"), "annotate", str(vcf), "-o", str(out), "--fasta", str(region_fasta),
                        "--gtf", str(mane_gtf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with pysam.VariantFile(str(out)) as fh:
        recs = [(x.id, x.alts, x.info["CSQ"]) for x in fh]
    by = {(i, a): c for i, a, c in recs}
    # KRAS c.35G>A / c.35G>T = G12D / G12V (COSMIC KRAS codon-12 spectrum)
    assert "p.G12D" in by[("m", ("T",))][0] and "p.G12V" in by[("m", ("A",))][0]
    assert by[("sv", ("<DEL>",))][0].split("|")[1:] == [""] * 12
    assert by[("star", ("*",))][0].split("|")[1:] == [""] * 12


def test_breakend_alleles_are_symbolic(tmp_path: Path, region_fasta: Path, mane_gtf: Path) -> None:
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr12,length=133275309>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   "chr12\t25245370\tbnd\tG\tG]chr7:55181378]\t.\tPASS\t.\n")
    out = tmp_path / "out.vcf.gz"
    subprocess.run([str(BIN / "unlock-atlas"), "annotate", str(vcf), "-o", str(out), "--fasta", str(region_fasta),
                    "--gtf", str(mane_gtf)], capture_output=True, text=True, check=True)
    with pysam.VariantFile(str(out)) as fh:
        csq = next(iter(fh)).info["CSQ"][0]
    assert csq.split("|")[1:] == [""] * 12
