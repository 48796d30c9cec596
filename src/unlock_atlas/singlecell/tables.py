"""Atlas parts ``sc_composition`` and ``sc_programs`` from an annotated sample (``sc annotate`` output)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from ..contract.parts import write_part
from .malignant import CALLED, NOT_RUN, reference_description
from .scoring import high_threshold

_GROUP = ["cell_type", "malignant"]


def _groups(adata: AnnData) -> pd.DataFrame:
    obs = pd.DataFrame({"cell_type": adata.obs["cell_type"].astype(str).to_numpy(),
                        "malignant": pd.array(adata.obs["malignant"], dtype="boolean")}, index=adata.obs_names)
    return obs


def malignant_call(adata: AnnData) -> tuple[str, str | None]:
    """(status, note) of the sample's malignant calls from ``uns['unlock_sc']['malignant']``.

    ``called``, or ``not_run`` with the reason (files annotated before the status existed said
    ``skipped``; a file without a summary and without any call is ``not_run`` too).
    """
    info = dict(adata.uns.get("unlock_sc", {}).get("malignant", {}))
    status = str(info.get("status", ""))
    if status == CALLED:
        return CALLED, None
    if status in (NOT_RUN, "skipped"):
        return NOT_RUN, str(info.get("reason", "")) or None
    if pd.array(adata.obs["malignant"], dtype="boolean").isna().all():
        return NOT_RUN, "no malignant-call summary in the annotated file and no cell called"
    return CALLED, None


def composition(adata: AnnData, patient_id: str, sample_id: str, timepoint: str | None) -> pd.DataFrame:
    """One row per cell type × malignant status: n_cells, fraction, n_cells_total, malignant_status/_note,
    malignant_lineage and cnv_reference (from ``uns['unlock_sc']['malignant']``; null when not recorded)."""
    obs = _groups(adata)
    n = obs.groupby(_GROUP, dropna=False, observed=True).size().rename("n_cells").reset_index()
    n["fraction"] = n["n_cells"] / adata.n_obs
    n["n_cells_total"] = adata.n_obs
    status, note = malignant_call(adata)
    info = dict(adata.uns.get("unlock_sc", {}).get("malignant", {}))
    n["malignant_status"], n["malignant_note"] = status, note
    n["malignant_lineage"] = str(info["lineage"]) if info.get("lineage") else None
    n["cnv_reference"] = reference_description(info) if status == CALLED else None
    n.insert(0, "timepoint", timepoint)
    n.insert(0, "sample_id", sample_id)
    n.insert(0, "patient_id", patient_id)
    return n


def programmes(adata: AnnData, patient_id: str, sample_id: str, timepoint: str | None) -> pd.DataFrame:
    """One row per cell type × malignant status × programme: mean_score, fraction_high."""
    obs = _groups(adata)
    info = adata.uns.get("unlock_sc", {}).get("programmes", {})
    rows = []
    for name, meta in info.items():
        col = f"score_{name}"
        thr = high_threshold(str(meta["method"]))
        obs["_s"] = adata.obs[col].to_numpy(dtype=np.float64)
        for key, g in obs.groupby(_GROUP, dropna=False, observed=True):
            s = g["_s"]
            scored = s.notna().any()
            rows.append({"patient_id": patient_id, "sample_id": sample_id, "timepoint": timepoint,
                         "cell_type": key[0], "malignant": key[1], "programme": name,
                         "method": str(meta["method"]), "verified": bool(meta["verified"]), "n_cells": len(g),
                         "mean_score": float(s.mean()) if scored else None,
                         "fraction_high": float((s > thr).mean()) if scored else None,
                         "high_threshold": thr, "genes_measured": int(meta["genes_measured"])})
    df = pd.DataFrame(rows)
    if len(df):
        df["malignant"] = pd.array(df["malignant"].where(df["malignant"].notna(), None), dtype="boolean")
    return df


def write_tables(adata: AnnData, patient_id: str, sample_id: str, timepoint: str | None,
                 composition_out: str | Path, programs_out: str | Path) -> tuple[int, int]:
    """Write both parts (atomically, conformed to their atlas schemas); returns their row counts."""
    comp = composition(adata, patient_id, sample_id, timepoint)
    prog = programmes(adata, patient_id, sample_id, timepoint)
    write_part(comp, "sc_composition", composition_out)
    write_part(prog, "sc_programs", programs_out)
    return len(comp), len(prog)
