"""The VCF FILTER registry: every FILTER value, what evidence it reads, its config thresholds.

Each filter is a :class:`Filter` registered in :data:`REGISTRY` (in FILTER-column order) by the
``@evidence_filter`` decorator on its test function, or, for the values that the origin decision
sets (:mod:`.origin`), by :func:`origin_filter`. A filter's thresholds are fields of
:class:`~unlock_atlas.calling.model.CallingParams` (the run config's ``calling:`` section); its VCF
header description is rendered from them, so the header states the thresholds the run used.
docs/development.md has the recipe to add one. The origin rules (germline, CH, the CH power
check) are in :mod:`.origin`. The reason for each filter and default threshold:

Artefact thresholds (each fires only with >= 5 alt fragments, where the test has power):

* ``strand_bias``: two-sided Fisher exact test of alt vs ref fragments by strand, p < 1e-4, and
  >= 90 % of alt fragments on one strand (both conditions: deep ctDNA makes tiny, real strand
  imbalances significant).
* ``read_position``: mean distance of the alt base to the nearest read end < 8 bases (alignment
  artefacts and end-repair errors cluster at read ends; random positions average ~ L/4 = 25+).
* ``low_mapq``: > 30 % of reads at the site have MAPQ < 20 (paralogue / repeat region).
* ``pon``: alt supported (>= 2 fragments and AF >= 0.5 %) in >= 2 panel-of-normals samples.
* ``slippage`` (polymerase slippage, as GATK Mutect2's ``PolymeraseSlippageFilter``): an indel
  that adds or removes exactly one unit (1-6 bp) of a tandem repeat whose reference tract is >= 8
  bases (Mutect2's ``--min-slippage-length`` default), when the pooled tumour VAF's Wilson 95 %
  lower bound is below 0.1 (Mutect2's ``--pcr-slippage-rate`` default): stutter of PCR and
  sequencing in long repeats makes one-unit changes at up to that fraction, so such evidence
  cannot tell a tumour indel from slippage. Deeper support (lower bound >= 0.1) is kept. The
  panel-of-normals background models a site's recurrent stutter as well; this filter also covers
  sites the panel does not.
* ``low_depth``: every sample has depth < 50 fragments, or the normal < 20 (origin not assessable).
* ``low_evidence``: no sample reaches ``called`` (discovered candidates kept for longitudinal
  review, e.g. 0.2 % VAF alleles).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from scipy import stats

from ..domain import wilson
from . import model

#: A filter's kind: ``artefact`` makes a would-be somatic variant's origin ``artefact``; ``quality``
#: marks a call without changing its origin; ``origin`` values are set by the origin decision.
FilterKind = Literal["artefact", "quality", "origin"]


@dataclass(frozen=True)
class VariantEvidence:
    """Everything a filter may read about one variant of one patient.

    ``per_sample[s]`` holds alt, depth, af, af_lo, af_hi, ds, status, adf, adr, ref_fwd, ref_rev,
    rpos (mean distance of alt bases to the nearest read end), lowmq_frac and ``background`` (the
    site's mean error); ``pon_hits``: panel-of-normals samples carrying the allele; ``ch_gene``: the
    variant lies in a gene with recurrent clonal haematopoiesis; ``key``: (chrom, 1-based pos,
    REF, ALT); ``context``: the reference around the variant (:data:`CONTEXT_FLANK` bases each side
    of ``pos``, clipped at the panel interval's ends) and ``context_offset`` the index of ``pos``
    in it.
    """

    per_sample: Mapping[str, Mapping]
    normal: str | None
    sample_types: Mapping[str, str]
    pon_hits: int = 0
    ch_gene: bool = False
    key: tuple[str, int, str, str] | None = None
    context: str = ""
    context_offset: int = 0

    @property
    def tumour(self) -> dict[str, Mapping]:
        """Per-sample evidence of the tumour samples (tissue and plasma)."""
        return {s: g for s, g in self.per_sample.items() if s != self.normal}

    def carriers(self, min_alt: int) -> list[Mapping]:
        """Tumour samples with at least ``min_alt`` alt fragments (where artefact tests have power)."""
        return [g for g in self.tumour.values() if g["alt"] >= min_alt]


#: bases of reference context each side of a variant in :attr:`VariantEvidence.context`
CONTEXT_FLANK = 25


@dataclass(frozen=True)
class Filter:
    """One FILTER value: ``name`` (the VCF FILTER id), ``kind``, ``description`` (a format string
    over the thresholds, ``{p.<field>}``), ``evidence`` (the :class:`VariantEvidence` /
    per-sample fields it reads), ``thresholds`` (its :class:`~.model.CallingParams` fields) and
    ``test`` (None for the values the origin decision sets)."""

    name: str
    kind: FilterKind
    description: str
    evidence: tuple[str, ...]
    thresholds: tuple[str, ...]
    test: Callable[[VariantEvidence, model.CallingParams], bool] | None = None

    def header(self, params: model.CallingParams = model.DEFAULT) -> str:
        """The VCF ``##FILTER`` description with this run's thresholds."""
        return self.description.format(p=params)


#: every FILTER value, in the order they are written to the FILTER column
REGISTRY: dict[str, Filter] = {}


def _register(f: Filter) -> Filter:
    if f.name in REGISTRY:
        raise ValueError(f"FILTER {f.name!r} is registered twice")
    unknown = [t for t in f.thresholds if t not in model.CallingParams.__dataclass_fields__]
    if unknown:
        raise ValueError(f"FILTER {f.name!r}: thresholds {unknown} are not CallingParams fields")
    REGISTRY[f.name] = f
    return f


def evidence_filter(name: str, kind: FilterKind, description: str, evidence: tuple[str, ...],
                    thresholds: tuple[str, ...]) -> Callable:
    """Decorator: register ``test(evidence, params) -> bool`` as the FILTER ``name``."""
    def wrap(test: Callable[[VariantEvidence, model.CallingParams], bool]):
        _register(Filter(name, kind, description, evidence, thresholds, test))
        return test
    return wrap


def origin_filter(name: str, description: str, thresholds: tuple[str, ...]) -> Filter:
    """Register a FILTER value that the origin decision (:mod:`.origin`) sets."""
    return _register(Filter(name, "origin", description, ("per_sample", "normal", "sample_types"), thresholds))


def apply_filters(ev: VariantEvidence, params: model.CallingParams = model.DEFAULT) -> list[str]:
    """The evidence filters (artefact and quality kinds) that fire for ``ev``, in registry order."""
    return [f.name for f in REGISTRY.values() if f.test is not None and f.test(ev, params)]


def is_artefact(name: str) -> bool:
    """Whether the FILTER ``name`` marks an artefact (origin ``artefact`` for a would-be somatic call)."""
    f = REGISTRY.get(name)
    return f is not None and f.kind == "artefact"


def ch_genes() -> frozenset[str]:
    """Genes with recurrent clonal haematopoiesis (``resources/kb/ch_genes.tsv``, with citations)."""
    import csv

    from ..paths import resources_dir

    path = resources_dir() / "kb" / "ch_genes.tsv"
    with open(path, newline="") as fh:
        rows = csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
        return frozenset(r["gene"] for r in rows if r.get("gene") and r.get("citation"))


def strand_bias(adf: int, adr: int, ref_fwd: int, ref_rev: int, params: model.CallingParams = model.DEFAULT) -> bool:
    """Strand-bias artefact (module docstring)."""
    alt = adf + adr
    if alt < params.artefact_min_alt:
        return False
    if max(adf, adr) < params.strand_bias_fraction * alt:
        return False
    p = stats.fisher_exact([[adf, adr], [ref_fwd, ref_rev]])[1]
    return bool(p < params.strand_bias_p)


# -- the origin decision's FILTER values (set by .origin, listed first in the VCF header) ---------------
origin_filter("germline", "Normal (white-cell) VAF >= {p.germline_af:.0%}: germline", ("germline_af",))
origin_filter("germline_ambiguous", "Normal VAF {p.germline_ambiguous_af:.0%}-{p.germline_af:.0%} (origin rule 'unknown'): "
              "treated as germline, never somatic", ("germline_ambiguous_af", "germline_af"))
origin_filter("chip", "Clonal haematopoiesis: detected in the normal at VAF < {p.germline_ambiguous_af:.0%} with an "
              "interval overlapping or above plasma", ("germline_ambiguous_af", "detect_ds", "normal_min_depth"))


# -- evidence filters, in FILTER-column order ------------------------------------------------------------------
@evidence_filter("strand_bias", "artefact",
                 "Alt fragments >= {p.strand_bias_fraction:.0%} on one strand and Fisher exact p < {p.strand_bias_p:g} "
                 "vs ref strand balance", ("adf", "adr", "ref_fwd", "ref_rev"),
                 ("artefact_min_alt", "strand_bias_fraction", "strand_bias_p"))
def _strand_bias(ev: VariantEvidence, p: model.CallingParams) -> bool:
    carriers = ev.carriers(p.artefact_min_alt)
    if not carriers:
        return False
    pooled = {k: sum(g[k] for g in carriers) for k in ("adf", "adr", "ref_fwd", "ref_rev")}
    return strand_bias(pooled["adf"], pooled["adr"], pooled["ref_fwd"], pooled["ref_rev"], p)


@evidence_filter("read_position", "artefact",
                 "Mean distance of alt bases to the nearest read end < {p.read_position_min:g} bases",
                 ("alt", "rpos"), ("artefact_min_alt", "read_position_min"))
def _read_position(ev: VariantEvidence, p: model.CallingParams) -> bool:
    carriers = ev.carriers(p.artefact_min_alt)
    alt_total = sum(g["alt"] for g in carriers)
    return alt_total >= p.artefact_min_alt and sum(g["rpos"] * g["alt"] for g in carriers) / alt_total < p.read_position_min


@evidence_filter("low_mapq", "artefact", "More than {p.low_mapq_fraction:.0%} of reads at the site have MAPQ < 20",
                 ("alt", "lowmq_frac"), ("artefact_min_alt", "low_mapq_fraction"))
def _low_mapq(ev: VariantEvidence, p: model.CallingParams) -> bool:
    carriers = ev.carriers(p.artefact_min_alt)
    return sum(g["alt"] for g in carriers) >= p.artefact_min_alt and max(g["lowmq_frac"] for g in carriers) > p.low_mapq_fraction


@evidence_filter("pon", "artefact", "Alt seen (>= {p.pon_hit_alt} fragments, AF >= {p.pon_hit_af:.1%}) in >= {p.pon_min_hits} "
                 "panel-of-normals samples", ("pon_hits",), ("pon_hit_alt", "pon_hit_af", "pon_min_hits"))
def _pon(ev: VariantEvidence, p: model.CallingParams) -> bool:
    return ev.pon_hits >= p.pon_min_hits


def repeat_change(ev: VariantEvidence) -> tuple[str, int] | None:
    """(repeat unit, reference tract length in bases) when ``ev`` is an indel adding or removing
    exactly one unit (1-6 bp, its own smallest period) of a tandem repeat that starts after the
    (left-normalised) anchor base; else None."""
    if ev.key is None or not ev.context:
        return None
    _, _, ref, alt = ev.key
    if len(ref) == len(alt) or min(len(ref), len(alt)) != 1:
        return None
    unit = alt[1:] if len(alt) > len(ref) else ref[1:]
    if not 1 <= len(unit) <= 6 or any(unit == unit[:k] * (len(unit) // k) for k in range(1, len(unit))
                                      if len(unit) % k == 0):
        return None
    i, n = ev.context_offset + 1, 0
    while ev.context[i:i + len(unit)] == unit:
        i, n = i + len(unit), n + 1
    return (unit, n * len(unit)) if n else None


@evidence_filter("slippage", "artefact",
                 "Indel of one unit of a tandem repeat >= {p.slippage_min_length} bases long, tumour VAF not "
                 "above the {p.slippage_rate:.0%} slippage rate (Wilson 95% lower bound)", ("key", "context", "alt", "depth"),
                 ("slippage_min_length", "slippage_rate"))
def _slippage(ev: VariantEvidence, p: model.CallingParams) -> bool:
    change = repeat_change(ev)
    if change is None or change[1] < p.slippage_min_length:
        return False
    tumour = [g for g in ev.tumour.values() if g["depth"] > 0]
    alt, depth = sum(g["alt"] for g in tumour), sum(g["depth"] for g in tumour)
    return alt > 0 and float(wilson(alt, depth)[0]) < p.slippage_rate


@evidence_filter("low_depth", "quality", "All samples < {p.low_depth_all} fragments deep, or the normal < {p.normal_min_depth}",
                 ("depth",), ("low_depth_all", "normal_min_depth"))
def _low_depth(ev: VariantEvidence, p: model.CallingParams) -> bool:
    depths = [g["depth"] for g in ev.per_sample.values()]
    return max(depths, default=0) < p.low_depth_all or (
        ev.normal is not None and ev.per_sample[ev.normal]["depth"] < p.normal_min_depth)


@evidence_filter("low_evidence", "quality", "Candidate not called in any sample (kept for longitudinal review)",
                 ("status",), ())
def _low_evidence(ev: VariantEvidence, p: model.CallingParams) -> bool:
    return not any(g["status"] == "called" for g in ev.per_sample.values())


origin_filter("ch_not_excluded", "Plasma-only variant in a clonal-haematopoiesis gene that the normal had < {p.ch_power:.0%} "
              "power to detect", ("ch_power", "detect_ds"))
