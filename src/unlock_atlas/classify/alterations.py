"""The ``alterations`` table: every somatic alteration of a patient tracked across timepoints.

Sources: sequence variants (snv / mnv / indel) from the variants part — only ``origin`` somatic
with ``filter`` PASS, so clonal haematopoiesis (``chip``), germline and artefacts never become
alterations (resistance-biology.md §2 rule 9); gene-level ``amplification`` / ``deep_deletion``
calls from the copy-number parts; ``fusion`` events from the fusion tables. "Present" in a
sample means *called* there (status ``called``; a copy-number call; a reported fusion).

Acquisition (resistance-biology.md §2 rule 3): tested against "present at baseline"
-----------------------------------------------------------------------------------
Every alteration gets ``baseline_ccf_upper``, the one-sided 95 % upper bound of its cancer-cell
fraction at baseline, JOINT over all baseline samples (:mod:`.acquisition`: exact test inversion
of the pooled ALT count for variants, pooled Poisson fragments for fusions, inverse-variance
pooled copy number for copy-number changes). Tumour content for these bounds is the tissue
purity, or the LOWER 95 % bound of an estimated tumour fraction (an over-estimated tumour
fraction would make a baseline look more sensitive than it was).

* ``pre_existing``: called in a baseline sample.
* ``acquired``: not called at baseline, no sub-threshold traces there, and baseline_ccf_upper <
  :data:`~.acquisition.ACQUIRED_MAX_CCF` (0.5 %): the baseline excludes a subclone of >= 0.5 % CCF.
  ``acquisition_p`` = P(baseline observations | present at 0.5 % CCF) < 0.05.
* ``emerged``: not called at baseline, the baseline cannot exclude a >= 0.5 % subclone, but the
  CCF rose beyond chance (``enriched``): selected under treatment, whether from a minor subclone
  below the baseline bound or de novo. It is a resistance mechanism (it expanded under the drug);
  it is not ``acquired`` (pre-existence is not excluded).
* ``indeterminate``: otherwise — no baseline sample or no tumour content; traces below the
  calling threshold at baseline (status detected_below_threshold) without a proven rise; or a
  baseline too shallow / too poor in tumour to exclude 0.5 % CCF and no proven rise. Neither
  acquired nor shown selected: not counted as a mechanism in the cohort summary.

``enriched``: the CCF rose beyond chance — the lower 95 % bound at progression (Wilson bound of the
VAF scaled by tumour content, highest over progression samples) exceeds baseline_ccf_upper; for
fusions the conditional two-Poisson test of baseline vs progression fragments (p < 0.05); for
copy number baseline_ccf_upper < 1 (below the level where it was called, which is the tumour copy
number of a clonal change). Copy-number calls, copy numbers and intervals are the copy-number
stage's as written (plasma already adjusted for its tumour fraction, docs/copynumber.md): the
classifier has no copy-number formula.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..contract.vocab import TIMEPOINTS
from ..domain import allele_id, is_somatic
from ..knowledge.resistance import load_kb
from .acquisition import (
    ACQUIRED_MAX_CCF,
    ALPHA,
    cn_ccf_upper,
    fusion_ccf_upper,
    fusion_enrichment_p,
    fusion_p_at,
    variant_ccf_upper,
    variant_p_at,
)
from .patient import PatientData

SEQ_KINDS = ("snv", "mnv", "indel")


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
    def __init__(self, pat: PatientData, tc: dict[str, float | None], tc_low: dict[str, float | None]) -> None:
        self.pat = pat
        self.tc = tc
        self.tc_low = tc_low
        ts = pat.tumour_samples
        self.meta = {r.sample_id: r for r in ts.itertuples()}
        self.baseline = [s for s, r in self.meta.items() if r.timepoint == "baseline"]

    # -- shared columns ---------------------------------------------------------------------------
    def _timepoint_cols(self, present: dict[str, bool], vaf: dict[str, float], cn: dict[str, float],
                        ti_detected: dict[str, bool] | None = None) -> dict:
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
        # tumour-informed: called, or detected by the tumour-informed test (sequence variants only; others repeat it)
        ti = ti_detected if ti_detected is not None else present
        ti_days = [int(self.meta[s].collection_day) for s in self.meta
                   if self.meta[s].sample_type == "plasma" and (present.get(s) or ti.get(s))]
        out["first_plasma_day_tumour_informed"] = min(ti_days) if ti_days else None
        return out

    def _pre_existing(self, present: dict[str, bool], what: str) -> dict | None:
        hits = [s for s in self.baseline if present.get(s)]
        if not hits:
            return None
        return {"acquisition": "pre_existing", "acquisition_p": None,
                "acquisition_basis": f"called at baseline in {', '.join(hits)} ({what})"}

    @staticmethod
    def _decide(upper: float, p: float, text: str, n: int) -> dict:
        basis = (f"{text}; baseline CCF <= {upper:.2%} (one-sided 95 % bound over {n} baseline sample"
                 f"{'s' if n > 1 else ''} jointly); P(baseline observations | CCF {ACQUIRED_MAX_CCF:.1%}) = {p:.2g}")
        if p < ALPHA:
            return {"acquisition": "acquired", "acquisition_p": p,
                    "acquisition_basis": f"{basis} < {ALPHA}: absent before treatment"}
        return {"acquisition": "indeterminate", "acquisition_p": p,
                "acquisition_basis": f"{basis} >= {ALPHA}: the baseline cannot exclude a pre-existing subclone of "
                                     f">= {ACQUIRED_MAX_CCF:.1%} CCF"}

    # -- sequence variants ------------------------------------------------------------------------
    def variants(self) -> list[dict]:
        v = self.pat.variants[is_somatic(self.pat.variants)]
        v = v[v["kind"].isin(SEQ_KINDS) & v["sample_id"].isin(list(self.meta))]
        if "allele_id" not in v.columns or v["allele_id"].isna().any():
            v = v.assign(allele_id=allele_id(v))
        out = []
        for (chrom, pos, ref, alt), g in v.groupby(["chrom", "pos", "ref", "alt"], sort=True):
            by = {r.sample_id: r for r in g.itertuples()}
            present = {s: r.status == "called" for s, r in by.items()}
            if not any(present.values()):
                continue
            first = g.iloc[0]
            row = {"alteration_id": first["allele_id"], "kind": first["kind"], "gene": first["gene"],
                   "chrom": chrom, "pos": int(pos), "ref": ref, "alt": alt, "transcript": first["transcript"],
                   "hgvsc": first["hgvsc"], "hgvsp": first["hgvsp"], "hgvsp_short": first["hgvsp_short"],
                   "consequence": first["consequence"]}
            vaf = {s: float(r.vaf) for s, r in by.items() if r.depth > 0 and not pd.isna(r.vaf)}
            ti = {s: getattr(r, "ti_status", None) == "detected_tumour_informed" for s, r in by.items()}
            row.update(self._timepoint_cols(present, vaf, {}, ti))
            bound = self._seq_bound(by)
            row.update(self._ccf(by, bound))
            row.update(self._pre_existing(present, self._reads(by, self.baseline))
                       or self._seq_acquisition(by, bound))
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

    def _seq_bound(self, by: dict) -> tuple[float, float, str, int] | None:
        """(baseline_ccf_upper, P at ACQUIRED_MAX_CCF, counts in words, n) over the evaluable baseline samples."""
        alt, depth, tc, parts = [], [], [], []
        for s in self.baseline:
            r, t = by.get(s), self.tc_low.get(s)
            if r is None or r.depth <= 0 or not t:
                continue
            alt.append(int(r.alt_reads))
            depth.append(int(r.depth))
            tc.append(float(t))
            parts.append(f"{s}: {r.alt_reads}/{r.depth} fragments at tumour content {t:.3f}")
        if not depth:
            return None
        return (variant_ccf_upper(alt, depth, tc), variant_p_at(ACQUIRED_MAX_CCF, alt, depth, tc), "; ".join(parts),
                len(depth))

    def _ccf(self, by: dict, bound: tuple | None) -> dict:
        def best(tp: str, col: str) -> float | None:
            xs = [self._ccf_of(r, col) for s, r in by.items() if self.meta[s].timepoint == tp]
            xs = [x for x in xs if x is not None]
            return max(xs) if xs else None

        b, p = best("baseline", "vaf"), best("progression", "vaf")
        b_hi, p_lo = (None if bound is None else bound[0]), best("progression", "vaf_ci_low")
        enriched = None if b_hi is None or p_lo is None else bool(p_lo > b_hi)
        return {"ccf_baseline": b, "ccf_progression": p, "baseline_ccf_upper": b_hi, "enriched": enriched}

    def _seq_acquisition(self, by: dict, bound: tuple | None) -> dict:
        if not self.baseline:
            return _indet("no baseline sample")
        traces = [s for s in self.baseline if s in by and by[s].status == "detected_below_threshold"]
        if traces:
            return _indet(f"traces at baseline below the calling threshold ({self._reads(by, traces)}): possibly a "
                          "pre-existing subclone")
        if bound is None:
            return _indet("baseline samples not evaluable (no depth or unknown tumour content)")
        upper, p, text, n = bound
        return self._decide(upper, p, f"not called at baseline ({text})", n)

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
                upper = self._cn_bound(by, call, present)
                row.update(ccf_baseline=None, ccf_progression=None, baseline_ccf_upper=upper,
                           enriched=None if upper is None else bool(upper < 1.0))
                what = "; ".join(f"{s}: {cn[s]:.1f} copies" for s in self.baseline if s in cn)
                row.update(self._pre_existing(present, what) or self._cn_acquisition(by, call, upper))
                out.append(row)
        return out

    def _cn_level(self, by: dict, call: str, present: dict[str, bool]) -> float | None:
        """Tumour copy number where the change is called outside baseline (conservative interval end)."""
        ends = [r.cn_lo if call == "amplification" else r.cn_hi for s, r in by.items()
                if present.get(s) and s not in self.baseline]
        ends = [float(x) for x in ends if x is not None and not pd.isna(x)]
        if not ends:
            return None
        return max(ends) if call == "amplification" else min(ends)

    def _cn_bound(self, by: dict, call: str, present: dict[str, bool]) -> float | None:
        level = self._cn_level(by, call, present)
        ev = [by[s] for s in self.baseline if s in by and by[s].cn_lo is not None and by[s].cn_hi is not None
              and not pd.isna(by[s].cn_lo) and not pd.isna(by[s].cn_hi)]
        if level is None or not ev:
            return None
        try:
            return cn_ccf_upper([r.cn for r in ev], [r.cn_lo for r in ev], [r.cn_hi for r in ev], level,
                                deletion=call == "deep_deletion")
        except ValueError:
            return None

    def _cn_acquisition(self, by: dict, call: str, upper: float | None) -> dict:
        if not self.baseline:
            return _indet("no baseline sample")
        ev = [(s, by[s]) for s in self.baseline if s in by and by[s].cn_lo is not None and by[s].cn_hi is not None]
        if not ev:
            return _indet("no baseline copy number (tumour content unknown)")
        text = "; ".join(f"{s}: {r.cn:.1f} copies (95% CI {r.cn_lo:.1f}-{r.cn_hi:.1f})" for s, r in ev)
        if upper is None:
            return _indet(f"baseline copy number ({text}) not comparable with the {call} level")
        basis = (f"not called at baseline ({text}); baseline CCF <= {upper:.2%} (one-sided 95 % bound of the "
                 f"inverse-variance pooled baseline copy number)")
        if upper < ACQUIRED_MAX_CCF:
            return {"acquisition": "acquired", "acquisition_p": None,
                    "acquisition_basis": f"{basis} < {ACQUIRED_MAX_CCF:.1%}: absent before treatment"}
        return _indet(f"{basis} >= {ACQUIRED_MAX_CCF:.1%}: the baseline cannot exclude a pre-existing subclone of "
                      f">= {ACQUIRED_MAX_CCF:.1%} CCF")

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
            row.update(ccf_baseline=None, ccf_progression=None)
            row.update(self._pre_existing(present, "fusion fragments: " + ", ".join(
                f"{s} {frags[s]}" for s in self.baseline if s in frags)) or {})
            row.update(self._fusion_acquisition(frags, row.get("acquisition") is None))
            out.append(row)
        return out

    def _fusion_acquisition(self, frags: dict[str, int], decide: bool) -> dict:
        """baseline_ccf_upper and enriched of a fusion; acquisition too when it was not called at baseline."""
        out: dict[str, Any] = {"baseline_ccf_upper": None, "enriched": None}
        base = [s for s in self.baseline if s in self.pat.fusion_samples]
        later = {s: n for s, n in frags.items() if s not in self.baseline}
        if not base or not later:
            return out | (_indet("no baseline sample with a fusion scan") if decide else {})
        ref = max(later, key=lambda s: later[s])
        t_ref = self.tc_low.get(ref)
        kappa, count, parts = [], 0, []
        for s in base:
            t = self.tc_low.get(s)
            if self.meta[s].sample_type != self.meta[ref].sample_type or not t or not t_ref:
                continue
            kappa.append(later[ref] * t / t_ref)
            count += int(frags.get(s, 0))
            parts.append(f"{s}: {frags.get(s, 0)} fragments, {kappa[-1]:.1f} expected if clonal")
        if not kappa:
            return out | (_indet("no comparable baseline sample (same type, known tumour content)") if decide else {})
        out["baseline_ccf_upper"] = upper = fusion_ccf_upper(count, kappa)
        p_enr = fusion_enrichment_p(count, later[ref], sum(kappa) / later[ref])
        out["enriched"] = bool(p_enr < ALPHA)
        if not decide:
            return out
        text = f"not called at baseline ({'; '.join(parts)}; {later[ref]} fragments in {ref})"
        return out | self._decide(upper, fusion_p_at(ACQUIRED_MAX_CCF, count, kappa), text, len(kappa))


def _indet(why: str) -> dict:
    return {"acquisition": "indeterminate", "acquisition_p": None, "acquisition_basis": why}


def build_alterations(pat: PatientData, tc: dict[str, float | None],
                      tc_low: dict[str, float | None] | None = None) -> pd.DataFrame:
    """The patient's alterations (one row each; columns of the ``alterations`` schema, raw patient ID).

    Parameters
    ----------
    pat
        The patient's inputs.
    tc
        Tumour content per tumour sample (:func:`unlock_atlas.classify.ctdna.tumour_content`).
    tc_low
        Conservative tumour content for the baseline bounds (:func:`tumour_content_low`); default ``tc``.
    """
    b = _Builder(pat, tc, tc if tc_low is None else tc_low)
    rows = b.variants() + b.copy_number() + b.fusions()
    for r in rows:  # indeterminate but shown to have risen beyond chance: emerged (module docstring)
        if r.get("acquisition") == "indeterminate" and r.get("enriched") is True:
            r["acquisition"] = "emerged"
            r["acquisition_basis"] = f"{r.get('acquisition_basis')}; the CCF rose beyond chance (enriched): emerged"
    df = pd.DataFrame(rows)
    if len(df):
        df.insert(0, "patient_id", pat.patient_id)
    return df


def tumour_content_low(tf: pd.DataFrame, pat: PatientData, tc: dict[str, float | None]) -> dict[str, float | None]:
    """Tumour content for the baseline CCF bounds: tissue purity when given (no interval), else the lower 95 %
    bound of the estimated tumour fraction (``tf_ci_low`` of :func:`~.ctdna.tumour_fractions`), never above
    ``tc``; ``None`` (not evaluable) when that bound is 0 or missing."""
    low = dict(zip(tf["sample_id"], tf["tf_ci_low"])) if len(tf) and "tf_ci_low" in tf else {}
    out: dict[str, float | None] = {}
    for s in pat.tumour_samples.itertuples():
        t = tc.get(s.sample_id)
        has_purity = s.sample_type == "tissue" and s.purity is not None and not pd.isna(s.purity) and s.purity > 0
        if t is None or has_purity:
            out[s.sample_id] = t
            continue
        lo = low.get(s.sample_id)
        out[s.sample_id] = None if lo is None or pd.isna(lo) or lo <= 0 else min(float(t), float(lo))
    return out
