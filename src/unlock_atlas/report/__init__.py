"""The cohort report for programme leads, generated from the Parquet atlas alone (docs/report.md)."""

from .build import build_report

__all__ = ["build_report"]
