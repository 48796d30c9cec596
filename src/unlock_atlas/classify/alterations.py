"""The ``alterations`` table: every somatic alteration of a patient tracked across timepoints.

Sources: sequence variants (snv / mnv / indel) from the variants part — only ``origin`` somatic
with ``filter`` PASS, so clonal haematopoiesis (``chip``), germline and artefacts never become
alterations (resistance-biology.md §2 rule 9); gene-level ``amplification`` / ``deep_deletion``
calls from the copy-number parts; ``fusion`` events from the fusion tables. "Present" in a
sample means *called* there (status ``called``; a copy-number call; a reported fusion).

Acquisition (resistance-biology.md §2 rule 3), with its statistical basis
-------------------------------------------------------------------------
* ``pre_existing``: called in a baseline sample.
* ``acquired``: not called at baseline, AND the baseline samples would have revealed it at its
  post-treatment level. For sequence variants the level is the cancer-cell fraction
  c = 2 x VAF / tumour content, taken at the LOWER 95 % bound of the VAF (vaf_ci_low) of the
  sample where it is highest — a conservative level, so a noisy high VAF cannot make a baseline
  look more sensitive than it was. The expected baseline VAF is e = c x tc_baseline / 2, and
  acquisition_p = prod over baseline samples of P(X <= alt_b | Binomial(depth_b, e_b)), the
  probability of seeing no more ALT fragments than observed if the alteration had been there.
  ``acquired`` when acquisition_p < :data:`ACQUIRED_P` = 0.05 (the usual 5 % error rate: at most a
  1-in-20 chance that a present subclone of that size was missed). Without tumour content for
  a sample the VAF is compared unscaled with the same sample type's VAF.
  Copy number: acquired when a baseline sample's 95 % copy-number interval excludes the call
  (upper bound < 5 copies for an amplification, lower bound >= 0.5 for a deep deletion) — one
  informative baseline suffices, as one deep sample does for variants; a low-tumour-fraction
  plasma with a wide interval neither proves nor disproves it, nor does a sample without copy
  number (plasma below the 3 % tumour-fraction floor). Calls, copy numbers and intervals are the
  copy-number stage's as written (plasma already adjusted for its tumour fraction; thresholds
  ``AMP_CN``/``DEEP_CN`` from its public API): the classifier has no copy-number formula.
  Fusions (no depth at the breakpoint): supporting fragments are Poisson with mean
  lambda_b = fragments_progression x tc_b / tc_progression (same sample type, similar depth);
  acquisition_p = prod exp(-lambda_b).
* ``indeterminate``: no baseline sample; traces at baseline below the calling threshold
  (status detected_below_threshold: some evidence it was there, not enough to call); or
  acquisition_p >= 0.05 (the baseline was too shallow or had too little tumour to tell).

Enrichment: the CCF at progression is "enriched" when its lower 95 % bound exceeds the upper
bound at baseline (both from Wilson intervals of the VAF scaled by tumour content).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from scipy.stats import binom

from ..atlas.schema import TIMEPOINTS
from ..copynumber import AMP_CN, DEEP_CN
from ..knowledge.resistance import load_kb, to_one_letter
from .ctdna import somatic
from .patient import PatientData

#: acquisition_p below which an alteration absent at baseline is called acquired (module docstring).
ACQUIRED_P = 0.05
SEQ_KINDS = ("snv", "mnv", "indel")


def hgvsp_short(hgvsp: Any) -> str | None:
    """``p.Cys797Ser`` (optionally ``ENSP...:`` prefixed) -> ``p.C797S``; None stays None."""
    if hgvsp is None or (not isinstance(hgvsp, str) and pd.isna(hgvsp)) or not str(hgvsp).strip():
        return None
    text = str(hgvsp).split(":")[-1]
    return "p." + to_one_letter(text)


def cn_observations(pat: PatientData) -> pd.DataFrame:
    """Copy-number rows of tumour samples with ``cn``, ``cn_lo``, ``cn_hi`` and ``call``, as the
    copy-number stage wrote them: plasma rows already carry the tumour-fraction-adjusted copy
    number and call (the stage ran the tumour-fraction step first; docs/copynumber.md), so the
    classifier never re-derives copy number from a ratio."""
    cn = pat.copy_number
    if cn is None or cn.empty:
        return pd.DataFrame(columns=["sample_id", "gene", "chrom", "start", "cn", "cn_lo", "cn_hi", "call"])
    tumour = set(pat.tumour_samples["sample_id"])
    rows = []
    for r in cn[cn["sample_id"].isin(tumour)].itertuples():
        c, lo, hi = r.copy_number, r.copy_number_ci_low, r.copy_number_ci_high
        rows.append({"sample_id": r.sample_id, "gene": r.gene, "chrom": r.chrom, "start": r.start,
                     "cn": None if pd.isna(c) else float(c), "cn_lo": None if pd.isna(lo) else float(lo),
                     "cn_hi": None if pd.isna(hi) else float(hi), "call": r.call})
    out = pd.DataFrame(rows)
    # keep "no copy number" as None (a float column would turn it into NaN, which `is not None` lets through)
    cols = ["cn", "cn_lo", "cn_hi"]
    out[cols] = out[cols].astype(object).where(out[cols].notna(), None)
    return out


class _Builder:
    def __init__(self, pat: PatientData, tc: dict[str, float | None]) -> None:
        self.pat = pat
        self.tc = tc
        ts = pat.tumour_samples
        self.meta = {r.sample_id: r for r in ts.itertuples()}
        self.baseline = [s for s, r in self.meta.items() if r.timepoint == "baseline"]

    # -- shared columns ---------------------------------------------------------------------------
    def _timepoint_cols(self, present: dict[str, bool], vaf: dict[str, float], cn: dict[str, float]) -> dict:
        out: dict[str, Any] = {}
        for tp in TIMEPOINTS:
            for st in ("tissue", "plasma"):
                sids = [s for s, r in self.meta.items() if r.timepoint == tp and r.sample_type == st]
                out[f"present_{tp}_{st}"] = any(present.get(s, False) for s in sids) if sids else None
                vs = [vaf[s] for s in sids if vaf.get(s) is not None]
                out[f"vaf_{tp}_{st}"] = max(vs) if vs else None
                cs = [cn[s] for s in sids if cn.get(s) is not None]
                out[f"cn_{tp}_{st}"] = max(cs, key=lambda x: abs(x - 2)) if cs else None
        called = [s for s in self.meta if present.get(s)]
        days = [int(self.meta[s].collection_day) for s in called]
        pdays = [int(self.meta[s].collection_day) for s in called if self.meta[s].sample_type == "plasma"]
        out.update(
            at_progression=any(self.meta[s].timepoint == "progression" for s in called),
            first_detected_day=min(days) if days else None, first_plasma_day=min(pdays) if pdays else None,
            seen_in_tissue=any(self.meta[s].sample_type == "tissue" for s in called),
            seen_in_plasma=any(self.meta[s].sample_type == "plasma" for s in called),
            n_samples_called=len(called), resistance_relevance="none")
        return out

    def _pre_existing(self, present: dict[str, bool], what: str) -> dict | None:
        hits = [s for s in self.baseline if present.get(s)]
        if not hits:
            return None
        return {"acquisition": "pre_existing", "acquisition_p": None,
                "acquisition_basis": f"called at baseline in {', '.join(hits)} ({what})"}

    # -- sequence variants ------------------------------------------------------------------------
    def variants(self) -> list[dict]:
        v = somatic(self.pat.variants)
        v = v[v["kind"].isin(SEQ_KINDS) & v["sample_id"].isin(list(self.meta))]
        out = []
        for (chrom, pos, ref, alt), g in v.groupby(["chrom", "pos", "ref", "alt"], sort=True):
            by = {r.sample_id: r for r in g.itertuples()}
            present = {s: r.status == "called" for s, r in by.items()}
            if not any(present.values()):
                continue
            first = g.iloc[0]
            row = {"alteration_id": f"{chrom}:{pos}:{ref}>{alt}", "kind": first["kind"], "gene": first["gene"],
                   "chrom": chrom, "pos": int(pos), "ref": ref, "alt": alt, "transcript": first["transcript"],
                   "hgvsc": first["hgvsc"], "hgvsp": first["hgvsp"], "hgvsp_short": hgvsp_short(first["hgvsp"]),
                   "consequence": first["consequence"]}
            vaf = {s: float(r.vaf) for s, r in by.items() if r.depth > 0 and not pd.isna(r.vaf)}
            row.update(self._timepoint_cols(present, vaf, {}))
            row.update(self._ccf(by))
            row.update(self._pre_existing(present, self._reads(by, self.baseline)) or self._seq_acquisition(by, present))
            out.append(row)
        return out

    @staticmethod
    def _reads(by: dict, sids: list[str]) -> str:
        return "; ".join(f"{s}: {by[s].alt_reads}/{by[s].depth} fragments" for s in sids if s in by)

    def _ccf_of(self, r: Any, col: str) -> float | None:
        t = self.tc.get(r.sample_id)
        val = getattr(r, col)
        if not t or r.depth <= 0 or pd.isna(val):
            return None
        return min(1.0, 2.0 * float(val) / t)

    def _ccf(self, by: dict) -> dict:
        def best(tp: str, col: str) -> float | None:
            xs = [self._ccf_of(r, col) for s, r in by.items() if self.meta[s].timepoint == tp]
            xs = [x for x in xs if x is not None]
            return max(xs) if xs else None

        b, p = best("baseline", "vaf"), best("progression", "vaf")
        b_hi, p_lo = best("baseline", "vaf_ci_high"), best("progression", "vaf_ci_low")
        enriched = None if b_hi is None or p_lo is None else bool(p_lo > b_hi)
        return {"ccf_baseline": b, "ccf_progression": p, "enriched": enriched}

    def _seq_acquisition(self, by: dict, present: dict[str, bool]) -> dict:
        if not self.baseline:
            return _indet("no baseline sample")
        traces = [s for s in self.baseline if s in by and by[s].status == "detected_below_threshold"]
        if traces:
            return _indet(f"traces at baseline below the calling threshold ({self._reads(by, traces)}): possibly a "
                          "pre-existing subclone")
        later = [by[s] for s in by if present.get(s) and s not in self.baseline]
        ccfs = [(self._ccf_of(r, "vaf_ci_low"), r) for r in later]
        ccfs = [(c, r) for c, r in ccfs if c]
        ref_ccf, ref = max(ccfs, key=lambda cr: cr[0]) if ccfs else (None, None)
        p_total, parts = 1.0, []
        for s in self.baseline:
            r = by.get(s)
            if r is None or r.depth <= 0:
                continue
            t = self.tc.get(s)
            if ref_ccf is not None and t:
                e = min(0.5, ref_ccf * t / 2.0)
            else:   # no tumour content: compare with the same sample type's lower VAF bound
                same = [x.vaf_ci_low for x in later if self.meta[x.sample_id].sample_type == self.meta[s].sample_type]
                if not same:
                    continue
                e = float(max(same))
            if e <= 0:
                continue
            p = float(binom.cdf(int(r.alt_reads), int(r.depth), e))
            p_total *= p
            parts.append(f"{s}: {r.alt_reads}/{r.depth} fragments, expected VAF {e:.4f}")
        if not parts:
            return _indet("baseline samples not evaluable (no depth or unknown tumour content)")
        level = (f"CCF >= {ref_ccf:.2f} (lower 95% bound in {ref.sample_id})" if ref is not None
                 else "the later VAF (tumour content unknown)")
        basis = (f"not detected at baseline ({'; '.join(parts)}); at {level} P(baseline observations) = "
                 f"{p_total:.2g}")
        if p_total < ACQUIRED_P:
            return {"acquisition": "acquired", "acquisition_p": p_total, "acquisition_basis": f"{basis} < {ACQUIRED_P}"}
        return {"acquisition": "indeterminate", "acquisition_p": p_total,
                "acquisition_basis": f"{basis} >= {ACQUIRED_P}: the baseline could have missed it"}

    # -- copy number ------------------------------------------------------------------------------
    def copy_number(self) -> list[dict]:
        obs = cn_observations(self.pat)
        out = []
        for call in ("amplification", "deep_deletion"):
            hit_genes = sorted(set(obs.loc[obs["call"] == call, "gene"]))
            for gene in hit_genes:
                g = obs[obs["gene"] == gene]
                by = {r.sample_id: r for r in g.itertuples()}
                present = {s: r.call == call for s, r in by.items()}
                cn = {s: r.cn for s, r in by.items() if r.cn is not None}
                first = g.iloc[0]
                row = {"alteration_id": f"{gene}:{call}", "kind": call, "gene": gene, "chrom": first["chrom"],
                       "pos": None if pd.isna(first["start"]) else int(first["start"])}
                row.update(self._timepoint_cols(present, {}, cn))
                row.update(ccf_baseline=None, ccf_progression=None, enriched=None)
                what = "; ".join(f"{s}: {cn[s]:.1f} copies" for s in self.baseline if s in cn)
                row.update(self._pre_existing(present, what) or self._cn_acquisition(by, call))
                out.append(row)
        return out

    def _cn_acquisition(self, by: dict, call: str) -> dict:
        if not self.baseline:
            return _indet("no baseline sample")
        ev = [(s, by[s]) for s in self.baseline if s in by and by[s].cn_lo is not None and by[s].cn_hi is not None]
        if not ev:
            return _indet("no baseline copy number (tumour content unknown)")
        text = "; ".join(f"{s}: {r.cn:.1f} copies (95% CI {r.cn_lo:.1f}-{r.cn_hi:.1f})" for s, r in ev)
        # one baseline sample whose interval excludes it suffices (as one deep sample does for variants);
        # a low-tumour-fraction plasma with a wide interval adds nothing either way
        ok = any(r.cn_hi < AMP_CN for _, r in ev) if call == "amplification" else any(r.cn_lo >= DEEP_CN for _, r in ev)
        limit = f"< {AMP_CN:g} copies" if call == "amplification" else f">= {DEEP_CN:g} copies"
        if ok:
            return {"acquisition": "acquired", "acquisition_p": None,
                    "acquisition_basis": f"baseline interval excludes the {call} ({text}; bound {limit})"}
        return _indet(f"baseline interval does not exclude the {call} ({text})")

    # -- fusions ----------------------------------------------------------------------------------
    def fusions(self) -> list[dict]:
        f = self.pat.fusions
        if f is None or f.empty:
            return []
        roles = load_kb().roles
        f = f[f["sample_id"].isin(list(self.meta))]
        out = []
        for (ca, ga, cb, gb), g in f.groupby(["chrom_a", "gene_a", "chrom_b", "gene_b"], sort=True):
            ga, gb = (ga or f"{ca}:{int(g['pos_a'].iloc[0])}"), (gb or f"{cb}:{int(g['pos_b'].iloc[0])}")
            gene, partner = (gb, ga) if roles.get(gb) == "oncogene" and roles.get(ga) != "oncogene" else (ga, gb)
            frags = g.groupby("sample_id")["fragments"].max().to_dict()
            present = {s: True for s in frags}
            top = g.sort_values("fragments", ascending=False).iloc[0]
            row = {"alteration_id": f"{ga}::{gb}:{ca}:{int(top['pos_a'])}-{cb}:{int(top['pos_b'])}", "kind": "fusion",
                   "gene": gene, "partner_gene": partner, "chrom": ca, "pos": int(top["pos_a"])}
            row.update(self._timepoint_cols(present, {}, {}))
            row.update(ccf_baseline=None, ccf_progression=None, enriched=None)
            row.update(self._pre_existing(present, "fusion fragments: " + ", ".join(
                f"{s} {frags[s]}" for s in self.baseline if s in frags)) or self._fusion_acquisition(frags))
            out.append(row)
        return out

    def _fusion_acquisition(self, frags: dict[str, int]) -> dict:
        base = [s for s in self.baseline if s in self.pat.fusion_samples]
        if not base:
            return _indet("no baseline sample with a fusion scan")
        ref = max(frags, key=lambda s: frags[s])
        t_ref = self.tc.get(ref)
        p_total, parts = 1.0, []
        for s in base:
            same = self.meta[s].sample_type == self.meta[ref].sample_type
            t = self.tc.get(s)
            if not same or not t or not t_ref:
                continue
            lam = frags[ref] * t / t_ref
            p_total *= math.exp(-lam)
            parts.append(f"{s}: 0 fragments, expected {lam:.1f}")
        if not parts:
            return _indet("no comparable baseline sample (same type, known tumour content)")
        basis = f"not detected at baseline ({'; '.join(parts)}, from {frags[ref]} in {ref}); P = {p_total:.2g}"
        if p_total < ACQUIRED_P:
            return {"acquisition": "acquired", "acquisition_p": p_total, "acquisition_basis": f"{basis} < {ACQUIRED_P}"}
        return {"acquisition": "indeterminate", "acquisition_p": p_total, "acquisition_basis": f"{basis} >= {ACQUIRED_P}"}


def _indet(why: str) -> dict:
    return {"acquisition": "indeterminate", "acquisition_p": None, "acquisition_basis": why}


def build_alterations(pat: PatientData, tc: dict[str, float | None]) -> pd.DataFrame:
    """The patient's alterations (one row each; columns of the ``alterations`` schema, raw patient ID).

    Parameters
    ----------
    pat
        The patient's inputs.
    tc
        Tumour content per tumour sample (:func:`unlock_atlas.classify.ctdna.tumour_content`).
    """
    b = _Builder(pat, tc)
    rows = b.variants() + b.copy_number() + b.fusions()
    df = pd.DataFrame(rows)
    if len(df):
        df.insert(0, "patient_id", pat.patient_id)
    return df
