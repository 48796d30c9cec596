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

from . import model

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
    "ch_not_excluded": "Plasma-only variant in a clonal-haematopoiesis gene that the normal had < 95% power to detect",
}
ARTEFACT_FILTERS = ("strand_bias", "read_position", "low_mapq", "pon")


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


def normal_power(depth: int, vaf: float, background: float, params: model.CallingParams = model.DEFAULT) -> float:
    """Probability that a normal of ``depth`` fragments detects an allele at ``vaf`` (>= 2 fragments
    and DS >= ``detect_ds`` against ``background``; module docstring)."""
    if depth <= 0 or vaf <= 0:
        return 0.0
    k_min = 2
    while k_min <= depth and model.detection_score(k_min, depth, background) < params.detect_ds:
        k_min += 1
    return float(stats.binom.sf(k_min - 1, depth, min(vaf, 1.0)))


def origin_and_filters(per_sample: dict[str, dict], normal: str | None, sample_types: dict[str, str],
                       pon_hits: int = 0, params: model.CallingParams = model.DEFAULT,
                       ch_gene: bool = False) -> tuple[str, list[str]]:
    """Origin and FILTER ids of one variant from its per-sample genotypes.

    ``per_sample[s]`` holds alt, depth, af, af_lo, af_hi, ds, status, adf, adr, ref_fwd,
    ref_rev, rpos, lowmq_frac and ``background`` (the site's mean error); ``ch_gene``: the variant
    lies in a gene with recurrent clonal haematopoiesis (the power check applies).
    """
    prm = params
    filt: list[str] = []
    tumour = {s: g for s, g in per_sample.items() if s != normal}
    carriers = [g for g in tumour.values() if g["alt"] >= prm.artefact_min_alt]
    pooled = {k: sum(g[k] for g in carriers) for k in ("adf", "adr", "ref_fwd", "ref_rev")} if carriers else None
    if pooled and strand_bias(pooled["adf"], pooled["adr"], pooled["ref_fwd"], pooled["ref_rev"], prm):
        filt.append("strand_bias")
    alt_total = sum(g["alt"] for g in carriers)
    if alt_total >= prm.artefact_min_alt:
        mean_rpos = sum(g["rpos"] * g["alt"] for g in carriers) / alt_total
        if mean_rpos < prm.read_position_min:
            filt.append("read_position")
        if max(g["lowmq_frac"] for g in carriers) > prm.low_mapq_fraction:
            filt.append("low_mapq")
    if pon_hits >= prm.pon_min_hits:
        filt.append("pon")
    depths = [g["depth"] for g in per_sample.values()]
    if max(depths, default=0) < prm.low_depth_all or (normal is not None and per_sample[normal]["depth"] < prm.normal_min_depth):
        filt.append("low_depth")
    if not any(g["status"] == "called" for g in tumour.values()) and not (
            normal is not None and per_sample[normal]["status"] == "called"):
        filt.append("low_evidence")

    origin = "somatic"
    if normal is not None:
        n = per_sample[normal]
        n_detected = n["alt"] >= 2 and n["ds"] >= prm.detect_ds and n["depth"] >= prm.normal_min_depth
        plasma = [g for s, g in tumour.items() if sample_types.get(s) == "plasma" and g["depth"] > 0]
        tissue = [g for s, g in tumour.items() if sample_types.get(s) != "plasma" and g["depth"] > 0]
        tissue_above = any(g["af_lo"] > n["af_hi"] for g in tissue if n["depth"] > 0) or (
            n["depth"] == 0 and any(g["status"] == "called" for g in tissue))
        if n_detected and n["af"] >= prm.germline_af:
            origin = "germline"
            filt.append("germline")
        elif n_detected and n["af"] >= prm.germline_ambiguous_af:
            origin = "germline"
            filt.append("germline_ambiguous")
        elif n_detected:
            plasma_overlap = any(n["af_hi"] >= g["af_lo"] for g in plasma if g["alt"] > 0) or not plasma
            if plasma_overlap and not tissue_above:
                origin = "chip"
                filt.append("chip")
        elif ch_gene and not tissue_above:
            seen = [g for g in plasma if g["alt"] > 0]
            if seen:
                v = max(g["af_lo"] for g in seen)
                if normal_power(int(n["depth"]), v, float(n.get("background", 1e-4)), prm) < prm.ch_power:
                    origin = "ch_not_excluded"
                    filt.append("ch_not_excluded")
    if origin == "somatic" and any(f in ARTEFACT_FILTERS for f in filt):
        origin = "artefact"
    return origin, filt
