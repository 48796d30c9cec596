"""Shared fixtures. Tests that need the shared GRCh38 data FAIL (never skip) when it is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from unlock_atlas.paths import resolve_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared GRCh38 data directory (config-free resolution: $UNLOCK_ATLAS_DATA → ../shared/data)."""
    return resolve_data_dir(None)


@pytest.fixture(scope="session")
def region_fasta(shared_data: Path) -> Path:
    return shared_data / "reference_grch38" / "panel_genes.GRCh38.fa"


@pytest.fixture(scope="session")
def mane_gtf(shared_data: Path) -> Path:
    return shared_data / "transcripts_grch38" / "panel_mane_select.GRCh38.gtf"


#: The demo panel's genes (all have real sequence in ../shared/data); ~44.5 kb of coding exons ± 20 bp.
DEMO_PANEL_GENES = [
    "EGFR", "KRAS", "BRAF", "MET", "ALK", "PIK3CA", "NRAS", "MAP2K1", "TP53",
    "PTEN", "NF2", "STK11", "CDK4", "RB1", "RET", "CDKN2A", "MAP2K2",
]
