"""The mechanism rules: an ordered list of rule objects, each giving mechanism rows with
structured evidence.

:data:`RULES` is applied in order by :func:`unlock_atlas.classify.mechanisms.classify_patient`.
A rule reads one :class:`RuleContext` (the patient, its alterations, tumour fractions, the
knowledge base) and returns mechanism rows; a ``fallback`` rule runs only when no earlier rule
gave a row (a progressed patient gets exactly one fallback row). Each row carries its rule's
name in ``rule`` and the evidence as columns (``kb_pattern``, ``kb_evidence_status``,
``kb_source``, ``acquisition_basis``, ``ccf_baseline``, ``ccf_progression``, ``histology``,
``progression_tissue``, ``progression_plasma_tf``); the ``evidence`` text is a rendering of those
columns for people (:func:`render_kb_evidence` and the other ``render_*`` functions).

The rules, in order (module docstring of :mod:`.mechanisms` for the science):

1. ``kb_alteration`` — a somatic alteration at progression matched in the knowledge base for a
   component drug and eligible by acquisition (acquired / emerged / indeterminate, or
   pre-existing and enriched, or any pre-existing one when resistance is primary).
2. ``histologic_transformation`` — a progression biopsy's histology is a transformation that the
   baseline histology was not (:mod:`.lineage`).
3. ``non_genetic_state`` (fallback) — no mechanism so far, and the malignant cells moved into a
   persister / partial-EMT state between baseline and progression (:mod:`.nongenetic`).
4. ``no_mechanism`` (fallback) — nothing explains the progression: UNKNOWN, or NON_INFORMATIVE when
   the progression samples could not have shown a mechanism.

docs/development.md has the recipe to add a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..contract.vocab import TIMEPOINTS
from ..knowledge.resistance import PROTEIN_ALTERING, Alteration, KBMatch, ResistanceKB, load_kb
from ..tables import missing_to_none as _v
from .ctdna import MIN_INFORMATIVE_TF
from .lineage import transformation_of
from .nongenetic import PROGRAMMES, non_genetic_evidence
from .patient import PatientData

#: Alteration kind (alterations table) -> KB alteration kind.
KB_KIND = {"snv": "mutation", "mnv": "mutation", "indel": "mutation", "amplification": "amplification",
           "deep_deletion": "deletion", "fusion": "fusion"}


@dataclass
class RuleContext:
    """What a rule may read: the patient, its alterations (``alts``, whose ``resistance_relevance``
    a rule may set), their records, tumour fractions, the knowledge base, the resistance type
    (primary / acquired) and the rows of the rules before it."""

    pat: PatientData
    alts: pd.DataFrame
    records: list[dict]
    tf: pd.DataFrame
    kb: ResistanceKB
    rtype: str
    rows: list[dict]


@dataclass(frozen=True)
class MechanismRule:
    """One rule: ``name`` (the ``mechanisms.rule`` value), ``apply(ctx) -> rows`` (each row a dict
    of mechanisms columns; :func:`mechanism_row` fills the patient-level ones), ``fallback``."""

    name: str
    apply: Callable[[RuleContext], list[dict]]
    fallback: bool = False


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


def mechanism_row(pat: PatientData, a: dict | None, **kw) -> dict:
    """A mechanisms row: the patient-level columns, the alteration's columns when ``a`` is given,
    then ``kw``."""
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
                   enriched=None if enr is None else bool(enr), acquisition_basis=_v(a.get("acquisition_basis")),
                   ccf_baseline=_v(a.get("ccf_baseline")), ccf_progression=_v(a.get("ccf_progression")))
        if a["acquisition"] == "indeterminate":
            row["note"] = f"acquisition indeterminate: {a['acquisition_basis']}"
    row.update(kw)
    return row


# -- 1. knowledge-base alterations ------------------------------------------------------------------------

def _eligible(a: dict, rtype: str) -> bool:
    if not a["at_progression"]:
        return False
    if a["acquisition"] in ("acquired", "emerged", "indeterminate"):
        return True
    return bool(_v(a.get("enriched"))) or rtype == "primary"


def _protein_altering(a: dict) -> bool:
    terms = set(str(_v(a.get("consequence")) or "").split("&"))
    return a["kind"] in ("amplification", "fusion") or bool(terms & PROTEIN_ALTERING)


def observed_summary(a: dict) -> str:
    """The alteration's presence and level at each timepoint and sample type, as text."""
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


def render_kb_evidence(row: dict, a: dict) -> str:
    """The ``evidence`` text of a ``kb_alteration`` row, from its structured columns."""
    rule = f"{row['drug_class']} / {row['drug']}: {row['gene']} {row['kb_pattern']} -> {row['subclass']}"
    enriched = (f"; CCF {row['ccf_baseline']:.2f} -> {row['ccf_progression']:.2f} (enriched)"
                if row.get("enriched") and row.get("ccf_baseline") is not None else "")
    return (f"KB: {rule} (status {row['kb_evidence_status']}; {row['kb_source']}). Observed: {observed_summary(a)}. "
            f"Acquisition {row['acquisition']}: {row['acquisition_basis']}{enriched}")


def kb_alteration_rule(ctx: RuleContext) -> list[dict]:
    """Rule 1 (module docstring); sets ``resistance_relevance`` of the matched alterations."""
    rows = []
    for i, a in enumerate(ctx.records):
        matches = kb_matches(a, ctx.pat, ctx.kb)
        if not matches:
            if (a["acquisition"] in ("acquired", "emerged") and _v(a.get("gene")) in ctx.pat.regimen.targets
                    and _protein_altering(a)):
                ctx.alts.loc[ctx.alts.index[i], "resistance_relevance"] = "target_gene_unmatched"
            continue
        if not _eligible(a, ctx.rtype):
            continue
        ctx.alts.loc[ctx.alts.index[i], "resistance_relevance"] = "mechanism"
        for m in matches:
            row = mechanism_row(ctx.pat, a, drug=m.drug, drug_class=m.drug_class, **{"class": class_of(m.mechanism)},
                                subclass=m.mechanism, citation=m.citation,
                                kb_pattern=m.pattern or "target amplification rule", kb_evidence_status=m.evidence,
                                kb_source=m.source)
            row["evidence"] = render_kb_evidence(row, a)
            rows.append(row)
    return rows


# -- 2. histologic transformation ------------------------------------------------------------------------

def histologic_transformation_rule(ctx: RuleContext) -> list[dict]:
    """Rule 2 (module docstring): at most one row, from the first transformed progression biopsy."""
    pat, alts = ctx.pat, ctx.alts
    tissue = pat.samples[pat.samples["sample_type"] == "tissue"]
    base = [transformation_of(h) for h in tissue.loc[tissue["timepoint"] == "baseline", "histology"]]
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
        return [mechanism_row(pat, None, **{"class": "other"}, subclass="LINEAGE_HISTOLOGIC",
                              alteration=str(s.histology), acquisition="acquired" if base_hist else "indeterminate",
                              evidence=ev, citation=t.citation, note=note, histology=str(s.histology))]
    return []


# -- 3. non-genetic state (fallback) ---------------------------------------------------------------------

def _programme_citations() -> list[str]:
    """Citations of the programmes the non-genetic rule uses (resources/singlecell/programmes.tsv)."""
    from ..singlecell.gene_sets import load_programmes

    progs = load_programmes()
    return [progs[p].citation for p in PROGRAMMES if p in progs]


def non_genetic_state_rule(ctx: RuleContext) -> list[dict]:
    """Rule 3 (module docstring)."""
    hit, sc_evidence = non_genetic_evidence(ctx.pat.sc_programs)
    if not hit:
        return []
    return [mechanism_row(ctx.pat, None, **{"class": "other"}, subclass="NON_GENETIC", alteration="expression state",
                          acquisition="acquired", evidence=f"no genetic mechanism; {sc_evidence}",
                          note="candidate: an expression state is associated with, not proven to cause, resistance",
                          citation="resistance-biology.md §5; " + "; ".join(_programme_citations()))]


# -- 4. no mechanism (fallback) --------------------------------------------------------------------------

def render_no_mechanism_evidence(row: dict, n_at_progression: int) -> str:
    """The ``evidence`` text of a ``no_mechanism`` row, from its structured columns."""
    best = row["progression_plasma_tf"]
    tf_txt = ("no plasma at progression" if best is None and not row["_plasma_at_progression"] else
              "progression plasma tumour fraction not estimable" if best is None else
              f"best progression plasma tumour fraction {best:.3f}")
    if row["subclass"] == "NON_INFORMATIVE":
        return (f"no tissue biopsy at progression and {tf_txt} (< {MIN_INFORMATIVE_TF} = the ctDNA detection floor, "
                "resistance-biology.md §4): a mechanism could have been missed; re-test tissue (ESMO, Pascual 2022)")
    return (f"none of the {n_at_progression} somatic alterations called at progression is a knowledge-base resistance "
            f"alteration for {row['regimen']} ({'tissue at progression; ' if row['progression_tissue'] else ''}{tf_txt})")


def no_mechanism_rule(ctx: RuleContext) -> list[dict]:
    """Rule 4 (module docstring): UNKNOWN or NON_INFORMATIVE, with the single-cell evidence (if any)
    and the stable pre-existing KB alterations in ``note``."""
    pat, tf, alts = ctx.pat, ctx.tf, ctx.alts
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
    sub = "NON_INFORMATIVE" if not has_tissue and (best is None or best < MIN_INFORMATIVE_TF) else "UNKNOWN"
    note = f"stable pre-existing KB alteration(s) not counted: {', '.join(stable)}" if stable else None
    _, sc_evidence = non_genetic_evidence(pat.sc_programs)
    if sc_evidence:
        note = "; ".join(x for x in (note, sc_evidence) if x)
    row = mechanism_row(pat, None, **{"class": "unknown"}, subclass=sub, note=note,
                        citation="resistance-biology.md §2 (UNKNOWN) and §4 (non-informative ctDNA)",
                        progression_tissue=has_tissue, progression_plasma_tf=best)
    row["_plasma_at_progression"] = bool(len(plasma))
    n = int(alts["at_progression"].sum()) if len(alts) else 0
    row["evidence"] = render_no_mechanism_evidence(row, n)
    del row["_plasma_at_progression"]
    return [row]


#: The mechanism rules, in the order they are applied.
RULES: list[MechanismRule] = [
    MechanismRule("kb_alteration", kb_alteration_rule),
    MechanismRule("histologic_transformation", histologic_transformation_rule),
    MechanismRule("non_genetic_state", non_genetic_state_rule, fallback=True),
    MechanismRule("no_mechanism", no_mechanism_rule, fallback=True),
]
