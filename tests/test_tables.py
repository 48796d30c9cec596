"""The shared readers of the pipeline's intermediate tables and knowledge-base TSVs give errors
that name the file, the line/column and the command to rerun (never a pyarrow traceback)."""

from __future__ import annotations

import pandas as pd
import pytest

from unlock_atlas.classify.lineage import load_transformations
from unlock_atlas.classify.nongenetic import read_sc_programs
from unlock_atlas.errors import InputError
from unlock_atlas.identity.fingerprint import read_fingerprint
from unlock_atlas.tables import concat_parts, read_table


def test_read_table_names_missing_columns_and_the_fix(tmp_path):
    p = tmp_path / "fp.tsv"
    p.write_text("chrom\tpos\nchr1\t5\n")
    with pytest.raises(InputError) as e:
        read_fingerprint(p)
    msg = str(e.value)
    assert str(p) in msg and "ref" in msg and "alt" in msg and "unlock-atlas identity fingerprint" in msg


def test_corrupt_part_is_an_input_error_naming_the_file(tmp_path):
    bad = tmp_path / "UNL001-T-PD.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError) as e:
        read_sc_programs([bad])
    assert str(bad) in str(e.value) and "sc_programs part" in str(e.value) and "sc tables" in str(e.value)


def test_concat_parts_skips_empty_parts_and_keeps_rows(tmp_path):
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(a)
    pd.DataFrame({"x": pd.Series([], dtype="int64")}).to_parquet(b)
    pd.DataFrame({"x": [3]}).to_parquet(c)
    assert concat_parts([a, b, c], "part", "rerun")["x"].tolist() == [1, 2, 3]
    assert concat_parts([], "part", "rerun").empty
    assert read_table(a, "part", "rerun", columns=["x"])["x"].tolist() == [1, 2]


def test_histology_table_rows_need_term_and_citation(tmp_path):
    p = tmp_path / "histology.tsv"
    p.write_text("term\tlabel\tsupport_genes\tsource\tcitation\n"
                 "small cell\tSCLC\tRB1,TP53\tbiology §2\tYu 2013\n"
                 "\tnothing\t\tbiology §2\tYu 2013\n"
                 "squamous\tSCC\t\tbiology §2\t\n")
    with pytest.raises(InputError) as e:
        load_transformations(str(p))
    msg = str(e.value)
    assert "empty term" in msg and "empty citation" in msg and ":3" in msg or "row 3" in msg or "line 3" in msg
