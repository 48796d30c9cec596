"""The ORIGIN of each variant: somatic / germline / chip / ch_not_excluded / artefact.

Origin follows the published rule quoted in resistance-biology.md §4 (plasma vs buffy-coat,
i.e. the white-cell normal): **germline** if the normal's VAF >= 30 %; the 20–30 % band, which
that rule calls "unknown", is also treated as germline (never somatic: §3 rule 9 forbids calling
germline or CH variants resistance, so the conservative side is taken) with FILTER
``germline_ambiguous``; **tumour** (somatic) if the lower 95 % bound of a plasma (or tissue)
VAF exceeds the upper 95 % bound of the normal's VAF; **CH** (``chip``) if the allele is
detected in the normal (DS >= 13 with >= 2 fragments) at VAF < 20 % and the normal's interval
overlaps or exceeds the plasma VAF — unless a tissue sample's lower bound exceeds the normal's
upper bound (tumour DNA present in tissue: the normal signal is then tumour-in-normal
contamination, not CH). Artefact filters make the origin ``artefact``.

**CH not excluded (power check).** A variant not detected in the normal is only somatic if the
normal could have seen it: were it clonal haematopoiesis, the buffy-coat VAF would be about the
plasma VAF (most cfDNA is haematopoietic; Razavi et al. 2019, Nat Med 25:1928). The power is
``P(K >= k_min)``, ``K ~ Binomial(n_normal, v)``, with ``v`` the largest Wilson lower bound of
the plasma VAFs with any alt fragment (a CH clone at least that large is compatible with the
plasma) and ``k_min``
the smallest alt count that the normal rule calls detected (>= 2 fragments and DS >= 13 against
the site background). Below ``ch_power`` (0.95) the variant is ``ch_not_excluded`` (origin and
FILTER), not somatic - unless a tissue sample's lower VAF bound exceeds the normal's upper
bound (tumour DNA shown in tissue), or the gene has no recurrent CH (the check applies to the
genes of ``resources/kb/ch_genes.tsv``, each with its citation: outside them, a plasma variant
that the normal did not show is tumour-derived far more often than not, and every plasma-only
resistance mutation would otherwise wait for a deeper normal). A 300x normal (~280 fragments)
against a 1 % plasma VAF has power 0.77; a 2,000x normal against 0.5 % has 0.9995.

A would-be somatic variant that an ``artefact``-kind filter of :mod:`.filters` marks has origin
``artefact``. The FILTER values this module sets are registered in :data:`.filters.REGISTRY`
(kind ``origin``).
"""

from __future__ import annotations

from scipy import stats

from . import model
from .filters import VariantEvidence, apply_filters, is_artefact


def normal_power(depth: int, vaf: float, background: float, params: model.CallingParams = model.DEFAULT) -> float:
    """Probability that a normal of ``depth`` fragments detects an allele at ``vaf`` (>= 2 fragments
    and DS >= ``detect_ds`` against ``background``; module docstring)."""
    if depth <= 0 or vaf <= 0:
        return 0.0
    k_min = 2
    while k_min <= depth and model.detection_score(k_min, depth, background) < params.detect_ds:
        k_min += 1
    return float(stats.binom.sf(k_min - 1, depth, min(vaf, 1.0)))


def decide_origin(ev: VariantEvidence, params: model.CallingParams = model.DEFAULT) -> tuple[str, str | None]:
    """Origin of one variant from the normal against the tumour samples (module docstring), and the
    FILTER value that origin sets (None for somatic)."""
    prm = params
    if ev.normal is None:
        return "somatic", None
    n = ev.per_sample[ev.normal]
    tumour = ev.tumour
    n_detected = n["alt"] >= 2 and n["ds"] >= prm.detect_ds and n["depth"] >= prm.normal_min_depth
    plasma = [g for s, g in tumour.items() if ev.sample_types.get(s) == "plasma" and g["depth"] > 0]
    tissue = [g for s, g in tumour.items() if ev.sample_types.get(s) != "plasma" and g["depth"] > 0]
    tissue_above = any(g["af_lo"] > n["af_hi"] for g in tissue if n["depth"] > 0) or (
        n["depth"] == 0 and any(g["status"] == "called" for g in tissue))
    if n_detected and n["af"] >= prm.germline_af:
        return "germline", "germline"
    if n_detected and n["af"] >= prm.germline_ambiguous_af:
        return "germline", "germline_ambiguous"
    if n_detected:
        plasma_overlap = any(n["af_hi"] >= g["af_lo"] for g in plasma if g["alt"] > 0) or not plasma
        if plasma_overlap and not tissue_above:
            return "chip", "chip"
    elif ev.ch_gene and not tissue_above:
        seen = [g for g in plasma if g["alt"] > 0]
        if seen:
            v = max(g["af_lo"] for g in seen)
            if normal_power(int(n["depth"]), v, float(n.get("background", 1e-4)), prm) < prm.ch_power:
                return "ch_not_excluded", "ch_not_excluded"
    return "somatic", None


def classify_variant(ev: VariantEvidence, params: model.CallingParams = model.DEFAULT) -> tuple[str, list[str]]:
    """Origin and FILTER values of one variant: the evidence filters in registry order, then the
    origin's FILTER value; a somatic variant with an artefact filter becomes ``artefact``."""
    filt = apply_filters(ev, params)
    origin, ofilt = decide_origin(ev, params)
    if ofilt is not None:
        filt.append(ofilt)
    if origin == "somatic" and any(is_artefact(f) for f in filt):
        origin = "artefact"
    return origin, filt


def origin_and_filters(per_sample: dict[str, dict], normal: str | None, sample_types: dict[str, str],
                       pon_hits: int = 0, params: model.CallingParams = model.DEFAULT,
                       ch_gene: bool = False) -> tuple[str, list[str]]:
    """:func:`classify_variant` from loose arguments (``per_sample`` as in :class:`.filters.VariantEvidence`)."""
    return classify_variant(VariantEvidence(per_sample, normal, sample_types, pon_hits, ch_gene), params)
