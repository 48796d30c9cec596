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
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..contract.vocab import TIMEPOINTS
from ..domain import resistance_type
from ..knowledge.resistance import (
    PROTEIN_ALTERING,
    Alteration,
    KBMatch,
    ResistanceKB,
    load_kb,
)
from ..tables import missing_to_none as _v
from .ctdna import MIN_INFORMATIVE_TF
from .lineage import transformation_of
from .nongenetic import PROGRAMMES, non_genetic_evidence
from .patient import PatientData
from .phase import PhaseResult, Site, phase_pair

#: Alteration kind (alterations table) -> KB alteration kind.
KB_KIND = {"snv": "mutation", "mnv": "mutation", "indel": "mutation", "amplification": "amplification",
           "deep_deletion": "deletion", "fusion": "fusion"}


def class_of(subclass: str) -> str:
    """on_target / bypass / other / unknown for a resistance-biology.md §2 code."""
    if subclass.startswith("ON_TARGET"):
        return "on_target"
    if subclass.startswith("BYPASS"):
        return "bypass"
    if subclass in ("UNKNOWN", "NON_INFORMATIVE"):
        return "unknown"
    return "other"


def alteration_label(a: dict) -> str:
    """What the alteration is called in the mechanisms table: p. change (1-letter), the c. change when
    the protein effect is unpredictable (``p.?``: splice sites; two such changes in a gene must not
    read alike), or the kind."""
    if a["kind"] in ("snv", "mnv", "indel"):
        p = _v(a.get("hgvsp_short"))
        if p == "p.?":
            return _v(a.get("hgvsc")) or a["alteration_id"]
        return p or _v(a.get("hgvsc")) or a["alteration_id"]
    return a["kind"]


def kb_matches(a: dict, pat: PatientData, kb: ResistanceKB) -> list[KBMatch]:
    """KB matches of one alteration (a row of the alterations table) for each component drug."""
    gene = _v(a.get("gene"))
    if not gene:
        return []
    change = (_v(a.get("hgvsp_short")) or "") if a["kind"] in ("snv", "mnv", "indel") else ""
    alt = Alteration(gene=str(gene), kind=KB_KIND[a["kind"]], protein_change=str(change),
                     consequence=str(_v(a.get("consequence")) or ""))
    return kb.match(alt, pat.regimen)


def _eligible(a: dict, rtype: str) -> bool:
    if not a["at_progression"]:
        return False
    if a["acquisition"] in ("acquired", "emerged", "indeterminate"):
        return True
    return bool(_v(a.get("enriched"))) or rtype == "primary"


def _observed(a: dict) -> str:
    parts = []
    for tp in TIMEPOINTS:
        for st in ("tissue", "plasma"):
            pres = _v(a.get(f"present_{tp}_{st}"))
            if pres is None:
                continue
            v, c = _v(a.get(f"vaf_{tp}_{st}")), _v(a.get(f"cn_{tp}_{st}"))
            lvl = f" VAF {v:.4f}" if v is not None else f" CN {c:.1f}" if c is not None else ""
            parts.append(f"{tp} {st}: {'called' if pres else 'not called'}{lvl}")
    return "; ".join(parts)


def _row(pat: PatientData, a: dict | None, **kw: Any) -> dict:
    row = {"patient_id": pat.patient_id, "regimen": pat.regimen.name, "drug": pat.regimen.name,
           "drug_class": pat.regimen.drug_class, "phase": "na", "multiple_mechanisms": False,
           "progression_day": pat.progression_day}
    if a is not None:
        fpd = _v(a.get("first_plasma_day"))
        # lead time only for alterations NOT present at baseline: a baseline call is not a molecular lead
        lead = (None if fpd is None or pat.progression_day is None or a["acquisition"] == "pre_existing"
                else pat.progression_day - int(fpd))
        # the same with the first tumour-informed plasma detection (docs/classification.md "Lead time")
        fti = _v(a.get("first_plasma_day_tumour_informed"))
        lead_ti = (None if fti is None or pat.progression_day is None or a["acquisition"] == "pre_existing"
                   else pat.progression_day - int(fti))
        enr = _v(a.get("enriched"))
        row.update(gene=_v(a.get("gene")), alteration=alteration_label(a), alteration_id=a["alteration_id"],
                   kind=a["kind"], acquisition=a["acquisition"], first_plasma_day=fpd, lead_time_days=lead,
                   first_plasma_day_tumour_informed=fti, lead_time_tumour_informed_days=lead_ti,
                   enriched=None if enr is None else bool(enr))
        if a["acquisition"] == "indeterminate":
            row["note"] = f"acquisition indeterminate: {a['acquisition_basis']}"
    row.update(kw)
    return row


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
    rtype = resistance_type(pat.progression_day, pat.best_response)
    rows: list[dict] = []
    records = alts.to_dict("records") if len(alts) else []
    for i, a in enumerate(records):
        matches = kb_matches(a, pat, kb)
        if not matches:
            if (a["acquisition"] in ("acquired", "emerged") and _v(a.get("gene")) in pat.regimen.targets
                    and _protein_altering(a)):
                alts.loc[alts.index[i], "resistance_relevance"] = "target_gene_unmatched"
            continue
        if not _eligible(a, rtype):
            continue
        alts.loc[alts.index[i], "resistance_relevance"] = "mechanism"
        for m in matches:
            rule = f"{m.drug_class} / {m.drug}: {m.gene} {m.pattern or 'target amplification rule'} -> {m.mechanism}"
            evidence = (f"KB: {rule} (status {m.evidence}; {m.source}). Observed: {_observed(a)}. "
                        f"Acquisition {a['acquisition']}: {a['acquisition_basis']}"
                        + (f"; CCF {a['ccf_baseline']:.2f} -> {a['ccf_progression']:.2f} (enriched)"
                           if _v(a.get("enriched")) and _v(a.get("ccf_baseline")) is not None else ""))
            rows.append(_row(pat, a, drug=m.drug, drug_class=m.drug_class, **{"class": class_of(m.mechanism)},
                             subclass=m.mechanism, evidence=evidence, citation=m.citation))
    rows += _lineage_rows(pat, alts)
    _phase(rows, records, pat, kb)
    # a cis compound (one molecule carrying both changes) is ONE mechanism
    distinct = {r.get("compound_id") or r.get("alteration_id") or r.get("alteration") for r in rows}
    for r in rows:
        r["multiple_mechanisms"] = len(distinct) > 1
    if not rows:
        hit, sc_evidence = non_genetic_evidence(pat.sc_programs)
        if hit:
            rows.append(_row(pat, None, **{"class": "other"}, subclass="NON_GENETIC", alteration="expression state",
                             acquisition="acquired", evidence=f"no genetic mechanism; {sc_evidence}",
                             note="candidate: an expression state is associated with, not proven to cause, resistance",
                             citation="resistance-biology.md §5; " + "; ".join(_programme_citations())))
        else:
            row = _unknown_row(pat, tf, alts)
            if sc_evidence:
                row["note"] = "; ".join(x for x in (row.get("note"), sc_evidence) if x)
            rows.append(row)
    return pd.DataFrame(rows), alts


def _programme_citations() -> list[str]:
    """Citations of the programmes the non-genetic rule uses (resources/singlecell/programmes.tsv)."""
    from ..singlecell.gene_sets import load_programmes

    progs = load_programmes()
    return [progs[p].citation for p in PROGRAMMES if p in progs]


def _protein_altering(a: dict) -> bool:
    terms = set(str(_v(a.get("consequence")) or "").split("&"))
    return a["kind"] in ("amplification", "fusion") or bool(terms & PROTEIN_ALTERING)


def _lineage_rows(pat: PatientData, alts: pd.DataFrame) -> list[dict]:
    tissue = pat.samples[pat.samples["sample_type"] == "tissue"]
    base = [transformation_of(h) for h in tissue.loc[tissue["timepoint"] == "baseline", "histology"]]
    out = []
    for s in tissue[tissue["timepoint"] == "progression"].itertuples():
        t = transformation_of(s.histology)
        if t is None or any(b is not None and b.label == t.label for b in base):
            continue
        base_hist = [h for h in tissue.loc[tissue["timepoint"] == "baseline", "histology"] if h]
        support = []
        if t.support_genes and len(alts):
            lost = alts[alts["gene"].isin(t.support_genes) & alts["at_progression"]]
            support = sorted(set(lost["gene"]))
        note = ("baseline histology " + (", ".join(map(str, base_hist)) if base_hist else "not recorded: "
                "transformation assumed from the progression histology alone"))
        ev = (f"progression biopsy {s.sample_id} histology '{s.histology}' = {t.label} ({t.source})"
              + (f"; supporting DNA: {', '.join(support)} altered at progression" if support else
                 (f"; no {'/'.join(t.support_genes)} alteration found (DNA support absent; pathology decides)"
                  if t.support_genes else "")))
        out.append(_row(pat, None, **{"class": "other"}, subclass="LINEAGE_HISTOLOGIC", alteration=str(s.histology),
                        acquisition="acquired" if base_hist else "indeterminate", evidence=ev, citation=t.citation,
                        note=note))
        break
    return out


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


def _unknown_row(pat: PatientData, tf: pd.DataFrame, alts: pd.DataFrame) -> dict:
    prog = pat.samples[pat.samples["timepoint"] == "progression"]
    has_tissue = bool((prog["sample_type"] == "tissue").any())
    plasma = tf[(tf["sample_type"] == "plasma") & (tf["timepoint"] == "progression")] if len(tf) else tf
    tfs = [float(x) for x in plasma["tumour_fraction"] if _v(x) is not None] if len(plasma) else []
    best = max(tfs) if tfs else None
    stable = []
    if len(alts):
        # a pre-existing KB-listed alteration that did not expand is reported in the note, not counted
        stable = [alteration_label(a) for a in alts.to_dict("records")
                  if a["acquisition"] == "pre_existing" and a["resistance_relevance"] == "none"
                  and a["at_progression"] and kb_matches(a, pat, load_kb())]
    tf_txt = "no plasma at progression" if best is None and not len(plasma) else (
        "progression plasma tumour fraction not estimable" if best is None else
        f"best progression plasma tumour fraction {best:.3f}")
    if not has_tissue and (best is None or best < MIN_INFORMATIVE_TF):
        sub = "NON_INFORMATIVE"
        ev = (f"no tissue biopsy at progression and {tf_txt} (< {MIN_INFORMATIVE_TF} = the ctDNA detection floor, "
              "resistance-biology.md §4): a mechanism could have been missed; re-test tissue (ESMO, Pascual 2022)")
    else:
        sub = "UNKNOWN"
        n = int(alts["at_progression"].sum()) if len(alts) else 0
        ev = (f"none of the {n} somatic alterations called at progression is a knowledge-base resistance "
              f"alteration for {pat.regimen.name} ({'tissue at progression; ' if has_tissue else ''}{tf_txt})")
    note = f"stable pre-existing KB alteration(s) not counted: {', '.join(stable)}" if stable else None
    return _row(pat, None, **{"class": "unknown"}, subclass=sub, evidence=ev, note=note,
                citation="resistance-biology.md §2 (UNKNOWN) and §4 (non-informative ctDNA)")
