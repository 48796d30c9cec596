"""The cohort-wide fingerprint site list: germline SNVs called in the run's normals.

A fingerprint is only informative at positions where people differ. The panel has no curated
SNP list of its own (and the pipeline has no network at run time), so the sites are those the
run itself shows to be polymorphic: every single-nucleotide variant the calling stage called
``germline`` in a white-cell normal (``origin == "germline"``, ``status == "called"``, one
base each side) in any patient's variants part. Using the union over all normals makes the
list cohort-wide: every sample is then genotyped at the same sites, so any two samples of the
run -- of the same patient or of different patients -- can be compared.

Positions where normals carry different alternative bases (multi-allelic) are dropped: the
fingerprint models one ref/alt pair per site (they are rare, and the other sites suffice).
Sites are written in GRCh38 karyotype order, then position, so the list (and every
fingerprint) is identical whatever the order of the patients.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..atomic import atomic_path
from ..errors import InputError, Problem
from ..reference.genome import grch38_chromosomes
from ..tables import read_table

logger = logging.getLogger(__name__)

SITE_COLUMNS = ["chrom", "pos", "ref", "alt", "n_normals"]
_BASES = set("ACGT")


def _chrom_rank(chrom: str) -> tuple[int, str]:
    order = {c: i for i, c in enumerate(grch38_chromosomes())}
    return (order.get(chrom, len(order)), chrom)


def cohort_sites(parts: list[Path], normals: set[str]) -> pd.DataFrame:
    """Germline SNV sites called in any normal of ``parts``.

    Parameters
    ----------
    parts
        Variants parts of the run's patients (``results/tables/variants/<patient>.parquet``).
    normals
        Raw sample IDs of the run's white-cell normals.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SITE_COLUMNS` (``pos`` 1-based; ``n_normals`` = normals the site was
        called germline in), sorted by karyotype and position.

    Raises
    ------
    InputError
        A part that cannot be read or lacks the needed columns.
    """
    need = ["sample_id", "chrom", "pos", "ref", "alt", "status", "origin"]
    frames = []
    for path in parts:
        try:
            df = pd.read_parquet(path, columns=need)
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(Problem(str(path), f"cannot read the variants part ({exc})",
                                     "rerun `unlock-atlas call` / `annotate` for this patient")) from None
        sel = df[df["sample_id"].isin(normals) & (df["origin"] == "germline") & (df["status"] == "called")
                 & df["ref"].isin(_BASES) & df["alt"].isin(_BASES)]
        frames.append(sel[["sample_id", "chrom", "pos", "ref", "alt"]])
    if not frames or not sum(len(f) for f in frames):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("pos", "n_normals") else "object") for c in SITE_COLUMNS})
    allv = pd.concat(frames, ignore_index=True).drop_duplicates()
    n = allv.groupby(["chrom", "pos", "ref", "alt"], sort=False).size().rename("n_normals").reset_index()
    alts = n.groupby(["chrom", "pos"])["alt"].transform("nunique")
    multi = n[alts > 1]
    if len(multi):
        logger.info("dropping %d multi-allelic germline positions", multi[["chrom", "pos"]].drop_duplicates().shape[0])
    n = n[alts == 1].copy()
    n["pos"] = n["pos"].astype("int64")
    n["n_normals"] = n["n_normals"].astype("int64")
    n["_rank"] = [_chrom_rank(c) for c in n["chrom"]]
    n = n.sort_values(["_rank", "pos"], kind="stable").drop(columns="_rank").reset_index(drop=True)
    return n[SITE_COLUMNS]


def write_sites(sites: pd.DataFrame, path: str | Path) -> Path:
    """Write the site list as TSV (atomically)."""
    with atomic_path(path) as tmp:
        sites.to_csv(tmp, sep="\t", index=False)
    return Path(path)


def read_sites(path: str | Path) -> pd.DataFrame:
    """Read a site list written by :func:`write_sites`."""
    return read_table(path, "fingerprint site list", "rerun `unlock-atlas identity sites`", columns=SITE_COLUMNS,
                      fmt="tsv", dtype={"chrom": str, "ref": str, "alt": str})
