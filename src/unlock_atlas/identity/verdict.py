"""Per-sample and per-patient identity verdicts from the pairwise scores.

Within a patient, two samples **match** when their LOD >= ``min_lod`` and **mismatch** when
LOD <= -``min_lod`` (:mod:`.compare`). The patient's individual is the largest group of samples
connected by matches (ties: the group holding the normal, then the one holding the earliest
sample of the sheet) -- a majority rule, so a swapped *normal* is recognised as the odd one out
when the patient's tumour samples agree with each other. Then, per sample:

* ``mixed``        a normal whose contamination estimate exceeds ``max_contamination``
                   (default 0.03: 3 % foreign DNA in the germline reference already puts
                   foreign alleles at 1.5 % VAF, inside the range of low-VAF ctDNA calls);
* ``ok``           in the patient's group (of >= 2 samples);
* ``mismatch``     a conclusive mismatch with a member of the group -- a swapped or mislabelled
                   sample (when no two samples of the patient match, every sample with a
                   mismatch is flagged: we cannot tell which is foreign);
* ``inconclusive`` no conclusive comparison (too few sites covered in both).

``identity_ok`` is true for ``ok``, false for ``mismatch`` / ``mixed``, null for ``inconclusive``.
A sample that matches ANOTHER patient's individual (mean LOD against the members of that
patient's group >= ``min_lod``) has that patient in ``matches_patient``: where a swapped sample
came from (or one person enrolled twice); ``best_other_patient_lod`` is that mean LOD for the
best-matching other patient.

A patient **fails** when any of its samples has ``identity_ok`` false; its classification
is withheld (``classify`` = ``withheld``) unless the patient is listed in config
``identity.override`` (``classify`` = ``override``). Inconclusive samples do not stop
classification: a low-depth sample that cannot be verified is not evidence of a swap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .compare import Matrices, allele_frequencies, contamination, genotypes, lod_tables, pairwise

logger = logging.getLogger(__name__)

DEFAULTS = {"min_depth": 20, "min_lod": 3.0, "max_contamination": 0.03, "override": []}

SAMPLE_COLUMNS = ["patient_id", "sample_id", "sample_type", "n_sites_called", "lod_vs_group", "discordance_vs_group",
                  "contamination", "contamination_sites", "matches_patient", "best_other_patient_lod", "status",
                  "identity_ok", "note"]
PAIR_COLUMNS = ["patient_a", "sample_a", "patient_b", "sample_b", "same_patient", "n_sites", "n_discordant",
                "discordance", "lod", "verdict"]
PATIENT_COLUMNS = ["patient_id", "identity_ok", "n_samples", "failed_samples", "override", "classify"]


@dataclass
class IdentityResult:
    samples: pd.DataFrame
    pairs: pd.DataFrame
    patients: pd.DataFrame


def _groups(members: list[int], lod: np.ndarray, min_lod: float) -> list[list[int]]:
    """Connected components of the match graph among ``members`` (row indices)."""
    seen: set[int] = set()
    out = []
    for i in members:
        if i in seen:
            continue
        comp, todo = [], [i]
        seen.add(i)
        while todo:
            a = todo.pop()
            comp.append(a)
            for b in members:
                if b not in seen and lod[a, b] >= min_lod:
                    seen.add(b)
                    todo.append(b)
        out.append(sorted(comp))
    return out


def _r(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def judge(m: Matrices, meta: pd.DataFrame, settings: dict | None = None) -> IdentityResult:
    """Verdicts for every sample and patient of a run.

    Parameters
    ----------
    m
        The run's fingerprints (:func:`.compare.stack`), rows = samples.
    meta
        One row per sample, in sheet order: ``patient_id, sample_id, sample_type``.
    settings
        Config ``identity`` block (keys of :data:`DEFAULTS`).
    """
    cfg = {**DEFAULTS, **(settings or {})}
    min_lod, min_depth = float(cfg["min_lod"]), int(cfg["min_depth"])
    max_c = float(cfg["max_contamination"])
    override = {str(x) for x in (cfg.get("override") or [])}
    row = {s: i for i, s in enumerate(m.samples)}
    meta = meta[meta["sample_id"].isin(row)].reset_index(drop=True)
    idx = [row[s] for s in meta["sample_id"]]
    pat = meta["patient_id"].astype(str).tolist()
    typ = meta["sample_type"].astype(str).tolist()
    sid = meta["sample_id"].astype(str).tolist()

    g = genotypes(m, min_depth)
    normal_rows = [row[s] for s, t in zip(sid, typ) if t == "normal"]
    p = allele_frequencies(g, normal_rows)
    lod, both, disc = pairwise(g, lod_tables(p))
    cont, cont_n = contamination(m, g, normal_rows)
    called = (g >= 0).sum(axis=1)

    def verdict(a: int, b: int) -> str:
        return "match" if lod[a, b] >= min_lod else "mismatch" if lod[a, b] <= -min_lod else "inconclusive"

    pairs = []
    for i in range(len(sid)):
        for j in range(i + 1, len(sid)):
            a, b = idx[i], idx[j]
            same = pat[i] == pat[j]
            if not same and lod[a, b] < min_lod:
                continue   # cross-patient pairs are listed only when they look like one person
            n = int(both[a, b])
            pairs.append((pat[i], sid[i], pat[j], sid[j], same, n, int(disc[a, b]),
                          _r(disc[a, b] / n) if n else None, _r(lod[a, b]), verdict(a, b)))

    by_patient: dict[str, list[int]] = {}
    for i, pid in enumerate(pat):
        by_patient.setdefault(pid, []).append(i)
    group_of: dict[str, list[int]] = {}
    for pid, members in by_patient.items():
        rows = [idx[i] for i in members]
        groups = _groups(rows, lod, min_lod)
        normal_rows = {idx[i] for i in members if typ[i] == "normal"}
        first = {r: k for k, r in enumerate(rows)}
        groups.sort(key=lambda c: (-len(c), not (set(c) & normal_rows), min(first[r] for r in c)))
        group_of[pid] = groups[0]

    samples = []
    for pid, members in by_patient.items():
        rows = [idx[i] for i in members]
        group = group_of[pid]
        for i in members:
            a = idx[i]
            others = [b for b in group if b != a]
            if others:
                n = int(sum(both[a, b] for b in others))
                lod_g = float(np.mean([lod[a, b] for b in others]))
                disc_g = sum(int(disc[a, b]) for b in others) / n if n else None
            else:
                lod_g, disc_g = None, None
            # another patient's individual = the members of that patient's group
            cross = [(float(np.mean([lod[a, b] for b in grp])), q) for q, grp in group_of.items() if q != pid]
            best = max(cross, default=(None, None))
            matches = best[1] if best[0] is not None and best[0] >= min_lod else None
            notes = []
            if typ[i] == "normal" and np.isfinite(cont[a]) and cont[a] > max_c:
                status = "mixed"
                notes.append(f"contamination {cont[a]:.3f} > {max_c:g} at {int(cont_n[a])} homozygous sites")
            elif len(group) >= 2 and a in group:
                status = "ok"
            elif any(verdict(a, b) == "mismatch" for b in (group if len(group) >= 2 else rows) if b != a):
                status = "mismatch"
                notes.append("germline genotypes differ from the patient's other samples" if len(group) >= 2
                             else "no two samples of the patient match; cannot tell which is foreign")
            else:
                status = "inconclusive"
                notes.append(f"too few sites covered >= {min_depth}x to compare ({int(called[a])} called)")
            if matches:
                notes.append(f"genotypes match patient {matches} (LOD {best[0]:.1f})")
            samples.append({
                "patient_id": pid, "sample_id": sid[i], "sample_type": typ[i], "n_sites_called": int(called[a]),
                "lod_vs_group": _r(lod_g) if lod_g is not None else None,
                "discordance_vs_group": _r(disc_g) if disc_g is not None else None,
                "contamination": _r(cont[a]), "contamination_sites": int(cont_n[a]),
                "matches_patient": matches,
                "best_other_patient_lod": _r(best[0]) if best[0] is not None else None,
                "status": status, "identity_ok": {"ok": True, "inconclusive": None}.get(status, False),
                "note": "; ".join(notes) or None,
            })
    sdf = pd.DataFrame(samples, columns=SAMPLE_COLUMNS)
    sdf["identity_ok"] = sdf["identity_ok"].astype("boolean")
    pts = []
    for pid, members in by_patient.items():
        own = sdf[sdf["patient_id"] == pid]
        failed = own[own["identity_ok"].eq(False).fillna(False)]["sample_id"].tolist()
        ok = None if own["identity_ok"].isna().all() else not failed
        cls = "run" if not failed else ("override" if pid in override else "withheld")
        if failed:
            logger.warning("patient %s: sample identity check failed for %s -> classification %s", pid,
                           ", ".join(failed), cls)
        pts.append({"patient_id": pid, "identity_ok": ok, "n_samples": len(members),
                    "failed_samples": ",".join(failed) or None, "override": pid in override, "classify": cls})
    pdf = pd.DataFrame(pts, columns=PATIENT_COLUMNS)
    pdf["identity_ok"] = pdf["identity_ok"].astype("boolean")
    return IdentityResult(sdf, pd.DataFrame(pairs, columns=PAIR_COLUMNS), pdf)
