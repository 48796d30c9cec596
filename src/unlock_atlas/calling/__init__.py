"""Variant calling for tissue and ctDNA: fragment-level counting, per-sample candidate discovery,
joint per-patient genotyping with a background error model, filters and origin (docs/calling.md)."""

from .caller import call_patient, genotype_patient, read_panel, variants_table, write_vcf

__all__ = ["call_patient", "genotype_patient", "read_panel", "variants_table", "write_vcf"]
