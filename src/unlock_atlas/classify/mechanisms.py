"""Drug-aware classification of resistance mechanisms (the ``mechanisms`` table).

For a patient who progressed (``progression_day`` given), every somatic alteration called at
progression is looked up in the knowledge base against EACH component drug of the regimen
(:meth:`unlock_atlas.knowledge.resistance.ResistanceKB.match`; resistance-biology.md §2 rule 1:
"a label belongs to a gene–drug pair, not to a gene"). A match is a mechanism when the
alteration is

* ``acquired``, ``emerged`` or ``indeterminate`` (an indeterminate one is kept and labelled, with
  the reason in ``note`` — ambiguous cases are explained, not guessed — but not counted in the
  cohort summary), or
* ``pre_existing`` AND either enriched at progression (a resistant subclone that expanded under
  the drug) or the patient's resistance is ``primary`` (an alteration present before the drug
  explains a drug that never worked, §2 rule 3). A stable pre-existing alteration in a patient
  who responded did not stop the response and is not counted.

One row per matching component drug (so MAP2K1 C121S on dabrafenib+trametinib gives a
BYPASS_DOWNSTREAM row for dabrafenib and an ON_TARGET_MUT row for trametinib); counts of
alterations use distinct ``alteration_id``. ``class`` follows the subclass: ON_TARGET_* ->
on_target, BYPASS_* -> bypass, other codes -> other.

Histologic transformation at progression adds a LINEAGE_HISTOLOGIC row (:mod:`.lineage`).
A progressed patient with no genetic mechanism whose malignant cells shifted into a persister /
partial-EMT state between baseline and progression biopsies (scRNA) gets a NON_GENETIC candidate
row (:mod:`.nongenetic`) instead of the unknown row.

Compound on-target mutations (two or more SNV/MNV in a target gene that the KB lists as
ON_TARGET_MUT for a component, at progression, pre-existing ones included — e.g. T790M from an
earlier line with an acquired C797S) are phased against the nearest partner (:mod:`.phase`).

A progressed patient without a mechanism gets ONE ``unknown`` row: ``NON_INFORMATIVE`` when the
progression samples could not have shown a mechanism — no tissue at progression and no plasma
sample at progression with tumour fraction >= 0.03 (:data:`~.ctdna.MIN_INFORMATIVE_TF`) — else
``UNKNOWN``. Clonal haematopoiesis and germline variants never reach this module (they are not
alterations, :mod:`.alterations`).

The rules are objects applied in order (:data:`.rules.RULES`); each row names its rule in
``rule`` and carries its evidence as columns, the ``evidence`` text being their rendering.
"""

from __future__ import annotations

import pandas as pd

from ..domain import resistance_type
from ..knowledge.resistance import ResistanceKB, load_kb
from .patient import PatientData
from .phase import PhaseResult, Site, phase_pair
from .rules import RULES, RuleContext, alteration_label, class_of, kb_matches

__all__ = ["alteration_label", "class_of", "classify_patient", "kb_matches"]


def classify_patient(pat: PatientData, alterations: pd.DataFrame, tf: pd.DataFrame,
                     kb: ResistanceKB | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mechanism rows of one patient and the alterations with ``resistance_relevance`` filled.

    Parameters
    ----------
    pat
        The patient's inputs (regimen, progression, samples, BAMs for phasing).
    alterations
        :func:`unlock_atlas.classify.alterations.build_alterations` output.
    tf
        :func:`unlock_atlas.classify.ctdna.tumour_fractions` output.
    kb
        The knowledge base (default :func:`load_kb`).
    """
    kb = kb or load_kb()
    alts = alterations.copy()
    if pat.progression_day is None:
        return pd.DataFrame(), alts
    records = alts.to_dict("records") if len(alts) else []
    rtype = resistance_type(pat.days_to_progression, pat.best_response)   # timed from the line's start
    ctx = RuleContext(pat, alts, records, tf, kb, rtype, [])
    for rule in RULES:
        if rule.fallback and ctx.rows:
            continue
        new = rule.apply(ctx)
        for r in new:
            r["rule"] = rule.name
        ctx.rows += new
    rows = ctx.rows
    _phase(rows, records, pat, kb)
    # a cis compound (one molecule carrying both changes) is ONE mechanism
    distinct = {r.get("compound_id") or r.get("alteration_id") or r.get("alteration") for r in rows}
    for r in rows:
        r["multiple_mechanisms"] = len(distinct) > 1
    return pd.DataFrame(rows), alts


def _phase(rows: list[dict], records: list[dict], pat: PatientData, kb: ResistanceKB) -> None:
    on_target = {}   # alteration_id -> record, for every on-target SNV/MNV at progression
    for a in records:
        if a["kind"] in ("snv", "mnv") and a["at_progression"] and any(
                m.mechanism == "ON_TARGET_MUT" for m in kb_matches(a, pat, kb)):
            on_target[a["alteration_id"]] = a
    bams = [pat.bams[s] for s in pat.tumour_samples["sample_id"] if s in pat.bams]
    cache: dict[tuple[str, str], PhaseResult | None] = {}
    cis: dict[str, str] = {}     # union-find parent over alteration IDs phased in cis
    for r in rows:
        a = on_target.get(r.get("alteration_id"))
        if a is None:
            continue
        partners = [b for k, b in on_target.items() if k != a["alteration_id"] and b["gene"] == a["gene"]]
        if not partners:
            continue
        b = min(partners, key=lambda x: abs(int(x["pos"]) - int(a["pos"])))
        key = tuple(sorted((a["alteration_id"], b["alteration_id"])))
        if key not in cache:
            cache[key] = phase_pair(bams, Site(a["chrom"], int(a["pos"]), a["ref"], a["alt"]),
                                    Site(b["chrom"], int(b["pos"]), b["ref"], b["alt"])) if bams else None
        res = cache[key]
        partner = alteration_label(b)
        if res is None:
            r["phase"], r["phase_evidence"] = "unknown", f"with {partner}: no BAM given for phasing"
        else:
            r["phase"] = res.phase
            first_is_a = key[0] == a["alteration_id"]
            mine, theirs = (res.only_first, res.only_second) if first_is_a else (res.only_second, res.only_first)
            r["phase_evidence"] = (f"with {partner}: {res.both} fragments carry both, {mine} only "
                                   f"{alteration_label(a)}, {theirs} only {partner} (tumour samples pooled)")
        if r["phase"] == "unknown":
            r["note"] = "; ".join(x for x in (r.get("note"), "phase unresolved: too few fragments span both "
                                              "positions or a mixture (see phase_evidence)") if x)
        if r["phase"] == "cis":
            cis[_root(cis, key[0])] = _root(cis, key[1])
    _compound_ids(rows, cis)


def _root(parent: dict[str, str], x: str) -> str:
    while parent.get(x, x) != x:
        x = parent[x]
    return x


def _compound_ids(rows: list[dict], parent: dict[str, str]) -> None:
    """``compound_id`` = the '+'-joined sorted alteration IDs of each group of mutations phased in cis."""
    groups: dict[str, set[str]] = {}
    for x in list(parent):
        groups.setdefault(_root(parent, x), set()).add(x)
    for p in list(parent.values()):
        groups.setdefault(_root(parent, p), set()).add(p)
    ids = {m: "+".join(sorted(g)) for g in groups.values() if len(g) > 1 for m in g}
    for r in rows:
        if r.get("phase") == "cis" and r.get("alteration_id") in ids:
            r["compound_id"] = ids[r["alteration_id"]]
