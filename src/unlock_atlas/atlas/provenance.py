"""Tool and knowledge-base versions recorded in ``manifest.json`` (the report's Methods section).

``tools``: the installed versions of the packages that compute atlas values (from the package
metadata, so they are what ran, not what was requested), plus the samtools / bcftools release
pysam bundles. ``knowledge_base``: every table under ``resources/`` the classification and
annotation read, with its data-row count and the first 12 hex characters of its SHA-256, so two
atlases built with different knowledge can be told apart.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from typing import Any

from ..paths import resources_dir

#: distributions whose versions are recorded (absent ones are listed as null)
TOOLS = ["unlock-atlas", "snakemake", "pysam", "pybwa", "cyvcf2", "numpy", "scipy", "pandas", "pyarrow", "duckdb",
         "scanpy", "anndata", "infercnvpy", "harmonypy", "leidenalg", "matplotlib"]
#: knowledge tables (relative to resources/)
KNOWLEDGE = ["drugs.tsv", "kb/resistance_alterations.tsv", "kb/hotspots.tsv", "kb/gene_roles.tsv",
             "kb/aliases.tsv", "kb/numbering.tsv", "kb/histology_transformations.tsv",
             "singlecell/cell_type_markers.tsv", "singlecell/programmes.tsv"]


def tool_versions() -> dict[str, str | None]:
    """Installed versions of :data:`TOOLS` (null when not installed) and pysam's samtools/bcftools."""
    out: dict[str, str | None] = {}
    for name in TOOLS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        import pysam

        # pysam bundles samtools and bcftools of the same htslib release
        out["samtools/bcftools (pysam)"] = pysam.__samtools_version__
    except ImportError:  # pragma: no cover - pysam is a hard dependency
        pass
    return out


def knowledge_versions() -> dict[str, dict[str, Any]]:
    """Row count and SHA-256 prefix of each knowledge table present under ``resources/``."""
    out = {}
    for rel in KNOWLEDGE:
        path = resources_dir() / rel
        if not path.exists():
            continue
        data = path.read_bytes()
        rows = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip() and not ln.startswith("#")]
        out[rel] = {"rows": max(len(rows) - 1, 0), "sha256": hashlib.sha256(data).hexdigest()[:12]}
    return out
