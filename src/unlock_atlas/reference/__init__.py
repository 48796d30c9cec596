"""Reference genome, coordinates, transcript models and panel targets (shared core)."""

from __future__ import annotations

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy); other stages import only these
_EXPORTS = {
    "Region": ".genome",
    "RegionLift": ".genome",
    "grch38_chromosomes": ".genome",
    "parse_region_contig": ".genome",
    "Interval": ".panel",
    "add_extra_targets": ".panel",
    "panel_from_gtf": ".panel",
    "read_bed": ".panel",
    "read_bed_records": ".panel",
    "Transcript": ".transcripts",
    "load_transcripts": ".transcripts",
    "mane_by_gene": ".transcripts",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = [
    "Interval", "Region", "RegionLift", "Transcript", "add_extra_targets", "grch38_chromosomes", "load_transcripts",
    "mane_by_gene", "panel_from_gtf", "parse_region_contig", "read_bed", "read_bed_records"
]
