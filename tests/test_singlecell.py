"""Fast tests of the single-cell stage: gene-set tables, input detection, simulator truth, atlas parts."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import scanpy as sc
from anndata import AnnData
from scipy import sparse

from unlock_atlas.contract import schema
from unlock_atlas.contract import schema_sc_composition as sc_comp
from unlock_atlas.contract import schema_sc_programs as sc_prog
from unlock_atlas.errors import InputError
from unlock_atlas.singlecell import _cli, load_markers, load_programmes
from unlock_atlas.singlecell.preprocess import detect_input
from unlock_atlas.singlecell.simulate import LAYOUT_TYPES, genome_layout, patient_cnv, simulate_sample
from unlock_atlas.singlecell.tables import write_tables


def test_cited_gene_sets_loaded_as_given():
    m = load_markers()
    # resistance-biology.md §5 (Travaglini-based consensus), verbatim
    assert m["epithelial"].genes == ("EPCAM", "KRT8", "KRT18", "KRT19", "CDH1")
    assert m["NK cell"].genes == ("NKG7", "GNLY", "KLRD1")
    assert "PTPRC" not in {g for s in m.values() for g in s.genes}  # pan-immune is a state, not a type
    # the original types are verified; the tumour-site types of issue 24 are recalled ([R]) and flagged
    assert all(m[t].verified for t in LAYOUT_TYPES)
    assert not m["melanocyte"].verified and not m["microglia"].verified
    p = load_programmes()
    assert p["mpas"].genes == ("PHLDA1", "SPRY2", "SPRY4", "DUSP4", "DUSP6", "CCND1", "EPHA2", "EPHA4", "ETV4", "ETV5")
    assert p["mpas"].method == "zsum_sqrt_n"
    assert "PSMB10" in p["ifng_gep_18"].genes and "PSMB9" not in p["ifng_gep_18"].genes
    assert not p["persister"].verified and not p["antigen_presentation"].verified  # [R] lists flagged
    assert p["neuroendocrine"].verified and len(p["neuroendocrine"].genes) == 25


def test_bad_gene_set_table_is_reported(tmp_path):
    bad = tmp_path / "p.tsv"
    bad.write_text("programme\tgene\tmethod\tverified\tsource\tcitation\nx\tA\tzsum_sqrt_n\tmaybe\ts\tc\n")
    with pytest.raises(InputError, match="line 2, column 'verified'"):
        load_programmes(bad)


def _counts(n=200, g=300, seed=0):
    rng = np.random.default_rng(seed)
    x = sparse.csr_matrix(rng.poisson(1.0, (n, g)).astype(np.float32))
    return AnnData(X=x, var=pd.DataFrame(index=[f"G{i}" for i in range(g)]))


def test_input_kind_detection():
    a = _counts()
    assert detect_input(a) == "counts_X"
    b = a.copy()
    b.layers["counts"] = b.X.copy()
    sc.pp.normalize_total(b, target_sum=1e4)
    sc.pp.log1p(b)
    assert detect_input(b) == "counts_layer"
    del b.layers["counts"]
    assert detect_input(b) == "log_normalised"
    c = b.copy()
    c.raw = b
    sc.pp.scale(c)
    assert detect_input(c) == "scaled_with_raw"
    c.raw = None
    with pytest.raises(InputError, match="neither raw counts nor log-normalised"):
        detect_input(c, "x.h5ad")


def test_simulator_plants_what_it_says():
    a = simulate_sample(1000, seed=1, patient_seed=2, timepoint="baseline", n_genes=2000)
    assert a.shape == (1000, 2000)
    assert np.allclose(a.X.data, np.round(a.X.data)) and a.X.data.min() >= 0
    epi = a.obs.true_cell_type == "epithelial"
    assert (epi & ~a.obs.true_malignant).mean() >= 0.10  # non-malignant epithelium present
    assert 0.02 <= a.obs.true_doublet.mean() <= 0.04
    # genome order: sorted by chromosome order then position, all autosomes used
    lay = genome_layout(2000)
    assert lay.chromosome.nunique() == 23 and (lay.groupby("chromosome").start.apply(lambda s: s.is_monotonic_increasing)).all()
    f = patient_cnv(lay, 2)
    changed = lay[f != 1]
    assert set(np.unique(f)) <= {0.5, 1.0, 1.5, 0.75, 2.25}
    # arm-level: every changed chromosome changes a contiguous half
    for _, g in changed.groupby("chromosome"):
        assert len(g) >= 10
    # planted copy gain raises the malignant cells' expression of the gained genes
    mal = a.obs.true_malignant.to_numpy() & ~a.obs.true_doublet.to_numpy()
    nm = (a.obs.true_cell_type == "epithelial").to_numpy() & ~a.obs.true_malignant.to_numpy()
    lib = np.asarray(a.X.sum(axis=1)).ravel()
    norm = sparse.diags(1 / lib) @ a.X
    gain, loss = f > 1, f < 1
    def ratio(sel):
        return norm[mal][:, sel].sum() / norm[mal].shape[0] / (norm[nm][:, sel].sum() / norm[nm].shape[0])

    assert ratio(gain) > 1.2 and ratio(loss) < 0.8


def test_later_marker_types_do_not_move_the_simulated_genome(monkeypatch):
    """Markers added after the original eleven types take filler slots only: the layout without them
    (what the simulator produced before issue 24) differs only by those slots' names."""
    from unlock_atlas.singlecell import simulate as sim_mod

    new = genome_layout(3000)
    full = sim_mod.load_markers()
    monkeypatch.setattr(sim_mod, "load_markers", lambda: {t: full[t] for t in LAYOUT_TYPES})
    old = genome_layout(3000)
    assert (new[["chromosome", "start", "end"]].to_numpy() == old[["chromosome", "start", "end"]].to_numpy()).all()
    moved = new["gene"] != old["gene"]
    assert old.loc[moved, "gene"].str.startswith("SIMG").all()
    assert set(new.loc[moved, "gene"]) == {g for t, s in full.items() if t not in LAYOUT_TYPES for g in s.genes}


def _annotated_stub():
    n = 10
    ad = AnnData(X=np.zeros((n, 1), np.float32))
    ad.obs["cell_type"] = pd.Categorical(["epithelial"] * 6 + ["T cell"] * 3 + ["unassigned"])
    ad.obs["malignant"] = pd.array([True] * 4 + [False] * 6, dtype="boolean")
    ad.obs["score_persister"] = [1.0, 1.0, -1.0, 1.0, 0.0, 0.0, 2.0, -2.0, 0.5, 0.0]
    ad.obs["score_mpas"] = np.nan
    ad.uns["unlock_sc"] = {"programmes": {
        "persister": {"method": "score_genes", "verified": False, "genes_measured": 4},
        "mpas": {"method": "zsum_sqrt_n", "verified": True, "genes_measured": 1}}}
    return ad


def test_atlas_parts(tmp_path, monkeypatch):
    monkeypatch.setitem(schema.TABLES, "sc_composition", sc_comp.SCHEMA)
    monkeypatch.setitem(schema.TABLES, "sc_programs", sc_prog.SCHEMA)
    c, p = tmp_path / "c.parquet", tmp_path / "p.parquet"
    write_tables(_annotated_stub(), "PAT1", "PAT1-T-PD", "progression", c, p)
    comp = pq.read_table(c).to_pandas()
    key = {(r.cell_type, r.malignant): r for r in comp.itertuples()}
    assert key[("epithelial", True)].n_cells == 4 and key[("epithelial", False)].n_cells == 2
    assert key[("T cell", False)].fraction == pytest.approx(0.3)
    assert comp.fraction.sum() == pytest.approx(1.0) and (comp.n_cells_total == 10).all()
    prog = pq.read_table(p).to_pandas()
    pe = prog[(prog.programme == "persister") & (prog.cell_type == "epithelial") & (prog.malignant == True)]  # noqa: E712
    assert pe.mean_score.item() == pytest.approx(0.5) and pe.fraction_high.item() == pytest.approx(0.75)
    assert not pe.verified.item()
    mp = prog[prog.programme == "mpas"]
    assert mp.mean_score.isna().all() and (mp.high_threshold == 1.645).all()


def test_cli_registers_three_subcommands():
    parser = argparse.ArgumentParser()
    _cli.register(parser.add_subparsers())
    args = parser.parse_args(["sc", "annotate", "in.h5ad", "-o", "out.h5ad", "--no-cnv"])
    assert args.func is _cli._annotate and args.no_cnv
    assert parser.parse_args(["sc", "simulate", "-o", "x.h5ad"]).func is _cli._simulate


def test_corrupt_or_empty_h5ad_is_a_clear_error(tmp_path) -> None:
    from unlock_atlas.errors import InputError
    from unlock_atlas.singlecell.pipeline import read_any

    bad, empty = tmp_path / "bad.h5ad", tmp_path / "empty.h5ad"
    bad.write_bytes(b"not an HDF5 file")
    empty.write_bytes(b"")
    import pytest

    with pytest.raises(InputError, match="bad.h5ad: cannot read the single-cell file"):
        read_any(bad)
    with pytest.raises(InputError, match="empty.h5ad: the single-cell file is empty"):
        read_any(empty)
