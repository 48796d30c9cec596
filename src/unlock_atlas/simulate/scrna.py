"""Single-cell RNA of the simulated biopsies (the demo's ``scrna`` column of samples.tsv).

For every tissue sample whose scenario entry has ``scrna: true`` (in a cohort with
``scrna_cells`` > 0) the count matrix comes from :func:`unlock_atlas.singlecell.simulate.simulate_sample`
(negative-binomial counts, cited markers, malignant cells with the patient's arm-level copy
changes). Seeds: the cell draw from ``(seed, sample_id, "scrna")``, the malignant clone from
``(seed, patient_id, "scrna-clone")`` so that a patient's biopsies share one clone. The
persister / partial-EMT shift is planted only where the scenario says ``programme_shift: true``
— a non-genetic resistance story, not a property of every progression biopsy.

Written to ``scrna/<sample_id>.h5ad`` (atomically) and listed in ``truth/scrna.tsv``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..atomic import atomic_path, write_text_atomic
from .cohort import CohortPlan, derive_seed
from .scenario import Scenario

logger = logging.getLogger(__name__)

TRUTH_COLUMNS = ["patient_id", "sample_id", "timepoint", "n_cells", "malignant_cells", "programme_shift", "scrna"]


def _seed(seed: int, *labels: str) -> int:
    return int(derive_seed(seed, *labels).generate_state(1)[0])


def scrna_path(sample_id: str) -> str:
    """Path of a sample's simulated h5ad relative to the run directory."""
    return f"scrna/{sample_id}.h5ad"


def scrna_samples(scn: Scenario, plan: CohortPlan, cohort: str) -> list:
    """The sample plans of ``cohort`` that get single-cell data (empty when the cohort has none)."""
    if scn.scrna_cells(cohort) <= 0:
        return []
    return [s for s in plan.samples if scn.patients[s.patient_id].samples[s.key].scrna]


def write_scrna(out: Path, scn: Scenario, plan: CohortPlan, cohort: str, seed: int) -> dict[str, str]:
    """Simulate and write the h5ad of every scRNA biopsy; returns ``{sample_id: relative path}``."""
    from ..singlecell.simulate import simulate_sample  # scanpy stack: imported only when needed

    todo = scrna_samples(scn, plan, cohort)
    n_cells = scn.scrna_cells(cohort)
    paths: dict[str, str] = {}
    rows = ["\t".join(TRUTH_COLUMNS)]
    for s in todo:
        spec = scn.patients[s.patient_id].samples[s.key]
        ad = simulate_sample(n_cells, seed=_seed(seed, s.sample_id, "scrna"),
                             patient_seed=_seed(seed, s.patient_id, "scrna-clone"), timepoint=s.timepoint,
                             sample_id=s.sample_id, programme_shift=spec.programme_shift)
        rel = scrna_path(s.sample_id)
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target, suffix=".h5ad") as tmp:
            ad.write_h5ad(tmp, compression="gzip")
        paths[s.sample_id] = rel
        n_mal = int(ad.obs["true_malignant"].sum())
        rows.append("\t".join(map(str, [s.patient_id, s.sample_id, s.timepoint, ad.n_obs, n_mal,
                                        str(spec.programme_shift).lower(), rel])))
        logger.info("scRNA %s: %d cells (%d malignant), programme shift %s", s.sample_id, ad.n_obs, n_mal,
                    spec.programme_shift)
    if todo:
        write_text_atomic(out / "truth" / "scrna.tsv", "\n".join(rows) + "\n")
    return paths
