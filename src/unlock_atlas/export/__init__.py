"""Exports of the atlas for other tools: a GDC-style MAF and a cBioPortal study folder (docs/export.md)."""

from __future__ import annotations

from .cbioportal import write_study
from .maf import MAF_COLUMNS, build_maf, maf_alleles, variant_classification, write_maf

__all__ = ["MAF_COLUMNS", "build_maf", "maf_alleles", "variant_classification", "write_maf", "write_study"]
