"""VCF FILTERs and the ORIGIN of each variant (somatic / germline / chip / artefact).

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

Artefact thresholds (each fires only with >= 5 alt fragments, where the test has power):

* ``strand_bias``: two-sided Fisher exact test of alt vs ref fragments by strand, p < 1e-4, and
  >= 90 % of alt fragments on one strand (both conditions: deep ctDNA makes tiny, real strand
  imbalances significant).
* ``read_position``: mean distance of the alt base to the nearest read end < 8 bases (alignment
  artefacts and end-repair errors cluster at read ends; random positions average ~ L/4 = 25+).
* ``low_mapq``: > 30 % of reads at the site have MAPQ < 20 (paralogue / repeat region).
* ``pon``: alt supported (>= 2 fragments and AF >= 0.5 %) in >= 2 panel-of-normals samples.
* ``low_depth``: every sample has depth < 50 fragments, or the normal < 20 (origin not assessable).
* ``low_evidence``: no sample reaches ``called`` (discovered candidates kept for longitudinal
  review, e.g. 0.2 % VAF alleles).
"""

from __future__ import annotations

from scipy import stats

FILTERS: dict[str, str] = {
    "germline": "Normal (white-cell) VAF >= 30%: germline",
    "germline_ambiguous": "Normal VAF 20-30% (origin rule 'unknown'): treated as germline, never somatic",
    "chip": "Clonal haematopoiesis: detected in the normal at VAF < 20% with an interval overlapping or above plasma",
    "strand_bias": "Alt fragments >= 90% on one strand and Fisher exact p < 1e-4 vs ref strand balance",
    "read_position": "Mean distance of alt bases to the nearest read end < 8 bases",
    "low_mapq": "More than 30% of reads at the site have MAPQ < 20",
    "pon": "Alt seen (>= 2 fragments, AF >= 0.5%) in >= 2 panel-of-normals samples",
    "low_depth": "All samples < 50 fragments deep, or the normal < 20",
    "low_evidence": "Candidate not called in any sample (kept for longitudinal review)",
}
ARTEFACT_FILTERS = ("strand_bias", "read_position", "low_mapq", "pon")


def strand_bias(adf: int, adr: int, ref_fwd: int, ref_rev: int) -> bool:
    alt = adf + adr
    if alt < 5:
        return False
    if max(adf, adr) < 0.9 * alt:
        return False
    p = stats.fisher_exact([[adf, adr], [ref_fwd, ref_rev]])[1]
    return bool(p < 1e-4)


def origin_and_filters(per_sample: dict[str, dict], normal: str | None, sample_types: dict[str, str],
                       pon_hits: int = 0) -> tuple[str, list[str]]:
    """Origin and FILTER ids of one variant from its per-sample genotypes.

    ``per_sample[s]`` holds alt, depth, af, af_lo, af_hi, ds, status, adf, adr, ref_fwd,
    ref_rev, rpos, lowmq_frac.
    """
    filt: list[str] = []
    tumour = {s: g for s, g in per_sample.items() if s != normal}
    carriers = [g for g in tumour.values() if g["alt"] >= 5]
    pooled = {k: sum(g[k] for g in carriers) for k in ("adf", "adr", "ref_fwd", "ref_rev")} if carriers else None
    if pooled and strand_bias(pooled["adf"], pooled["adr"], pooled["ref_fwd"], pooled["ref_rev"]):
        filt.append("strand_bias")
    alt_total = sum(g["alt"] for g in carriers)
    if alt_total >= 5:
        mean_rpos = sum(g["rpos"] * g["alt"] for g in carriers) / alt_total
        if mean_rpos < 8:
            filt.append("read_position")
        if max(g["lowmq_frac"] for g in carriers) > 0.3:
            filt.append("low_mapq")
    if pon_hits >= 2:
        filt.append("pon")
    depths = [g["depth"] for g in per_sample.values()]
    if max(depths, default=0) < 50 or (normal is not None and per_sample[normal]["depth"] < 20):
        filt.append("low_depth")
    if not any(g["status"] == "called" for g in tumour.values()) and not (
            normal is not None and per_sample[normal]["status"] == "called"):
        filt.append("low_evidence")

    origin = "somatic"
    if normal is not None:
        n = per_sample[normal]
        n_detected = n["alt"] >= 2 and n["ds"] >= 13 and n["depth"] >= 20
        if n_detected and n["af"] >= 0.3:
            origin = "germline"
            filt.append("germline")
        elif n_detected and n["af"] >= 0.2:
            origin = "germline"
            filt.append("germline_ambiguous")
        elif n_detected:
            plasma = [g for s, g in tumour.items() if sample_types.get(s) == "plasma" and g["depth"] > 0]
            tissue = [g for s, g in tumour.items() if sample_types.get(s) != "plasma" and g["depth"] > 0]
            tissue_above = any(g["af_lo"] > n["af_hi"] for g in tissue)
            plasma_overlap = any(n["af_hi"] >= g["af_lo"] for g in plasma if g["alt"] > 0) or not plasma
            if plasma_overlap and not tissue_above:
                origin = "chip"
                filt.append("chip")
    if origin == "somatic" and any(f in ARTEFACT_FILTERS for f in filt):
        origin = "artefact"
    return origin, filt
