"""Filling the annotation columns of an atlas ``variants`` part (workflow step after calling).

Expected annotations come from public sources, not from the annotator:
- EGFR chr7:55181378 C>T = NM_005228.5 c.2369C>T p.(Thr790Met) (ClinVar VCV000016613);
- KRAS chr12:25245351 C>A = NM_004985.5 c.34G>T p.(Gly12Cys) (ClinVar VCV000012578; minus strand);
- EGFR chr7:55174771 AGGAATTAAGAGAAGC>A = c.2235_2249del p.(Glu746_Ala750del) (ClinVar VCV000177620);
- MANE Select transcripts: EGFR ENST00000275493.7 / NM_005228.5, KRAS ENST00000311936.8 / NM_004985.5
  (MANE v1.x release notes; the shared GTF's SOURCE.md names MANE).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from unlock_atlas.annotation import Annotator
from unlock_atlas.annotation.table import annotate_variants_table
from unlock_atlas.errors import InputError


def _part(rows: list[tuple[str, int, str, str, str]]) -> pd.DataFrame:
    recs = []
    for chrom, pos, ref, alt, kind in rows:
        for sample, stype in (("P1-N", "normal"), ("P1-P-PD", "plasma")):
            recs.append({"patient_id": "P1", "sample_id": sample, "sample_type": stype, "chrom": chrom, "pos": pos,
                         "ref": ref, "alt": alt, "kind": kind, "alt_reads": 5, "ref_reads": 995, "depth": 1000,
                         "vaf": 0.005, "status": "called", "filter": "PASS", "origin": "somatic"})
    return pd.DataFrame(recs)


@pytest.fixture(scope="module")
def annotator(region_fasta: Path, mane_gtf: Path) -> Annotator:
    return Annotator(region_fasta, mane_gtf)


def test_variants_part_gets_mane_annotations(tmp_path: Path, annotator: Annotator) -> None:
    src = tmp_path / "raw.parquet"
    # a part without allele_id (calls from elsewhere): annotation fills it
    _part([("chr7", 55181378, "C", "T", "snv"), ("chr12", 25245351, "C", "A", "snv"),
           ("chr7", 55174771, "AGGAATTAAGAGAAGC", "A", "indel")]).to_parquet(src)
    out = tmp_path / "filled.parquet"
    assert annotate_variants_table(src, out, annotator) == 3
    df = pd.read_parquet(out)
    assert len(df) == 6  # every sample row kept
    by = df.drop_duplicates("pos").set_index("pos")
    t790m = by.loc[55181378]
    assert (t790m.gene, t790m.transcript, t790m.refseq_transcript) == ("EGFR", "ENST00000275493.7", "NM_005228.5")
    assert (t790m.hgvsc, t790m.hgvsp, t790m.hgvsp_short) == ("c.2369C>T", "p.Thr790Met", "p.T790M")
    assert t790m.consequence == "missense_variant"
    assert t790m.allele_id == "chr7:55181378:C>T"
    g12c = by.loc[25245351]
    assert (g12c.gene, g12c.hgvsc, g12c.hgvsp_short, g12c.refseq_transcript) == ("KRAS", "c.34G>T", "p.G12C",
                                                                                 "NM_004985.5")
    ex19 = by.loc[55174771]
    assert (ex19.hgvsc, ex19.hgvsp) == ("c.2235_2249del", "p.Glu746_Ala750del")
    assert ex19.consequence == "inframe_deletion"
    # the other columns pass through unchanged
    assert df["alt_reads"].tolist() == [5] * 6 and set(df["sample_type"]) == {"normal", "plasma"}


def test_unreadable_part_is_a_clear_error(tmp_path: Path, annotator: Annotator) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputError, match="bad.parquet"):
        annotate_variants_table(bad, tmp_path / "out.parquet", annotator)
    assert not (tmp_path / "out.parquet").exists()
