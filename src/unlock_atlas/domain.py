"""Domain rules shared by several stages — the ONE definition of each meaning.

Stages import these instead of writing their own copy (tests/test_import_rules.py keeps Core free
of stage imports; docs/development.md says where each meaning lives):

* :func:`resistance_type` — a patient's resistance timing (patients.resistance_type; the atlas
  builds the column, classification uses it to decide which samples can show a mechanism);
* :func:`is_somatic` — which variant rows are somatic mutations of the tumour (tumour fraction,
  report, MAF export);
* :func:`allele_id` — the ``chrom:pos:ref>alt`` key of a sequence variant (alteration IDs, the
  tumour-fraction truncal set, the report's series);
* :func:`wilson` — the Wilson score interval of a binomial proportion (variant VAF, tumour fraction).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Resistance-timing thresholds in days from treatment start (see :func:`resistance_type`).
MIN_EXPOSURE_DAYS = 42        # SITC: >= 6 weeks of drug exposure before resistance can be judged [R]
EARLY_PROGRESSION_DAYS = 84   # 12 weeks: at or before the first restaging scans
DURABLE_SD_DAYS = 168         # 24 weeks: MATCH-R entry criterion SD >= 24 weeks [V]; SITC SD >= 6 months [R]


def resistance_type(progression_day: int | None, best_response: str | None) -> str:
    """Classify a patient's resistance to the drug as primary / acquired / not_progressed / unknown.

    Rules, applied in order (sources: MATCH-R entry criterion "progression after PR, or SD ≥ 24
    weeks" [V], resistance-biology.md §1 and §2.9; SITC definitions, Kluger et al., JITC
    2020;8:e000398 — ≥ 6 weeks of exposure, SD ≥ 6 months for secondary resistance [R]):

    1. no ``progression_day`` → ``not_progressed``;
    2. best response CR or PR → ``acquired`` (the tumour responded, then escaped);
    3. best response SD and progression on/after day 168 → ``acquired`` (durable disease control,
       the MATCH-R criterion);
    4. progression before day 42 → ``unknown``: under 6 weeks of exposure SITC does not judge
       resistance (the drug may not have had time to act, or stopped for toxicity);
    5. best response PD → ``primary`` (never benefited);
    6. no evaluable best response (missing or NE) and progression before day 84 → ``primary``:
       progression at or before the first restaging scans (every 6–8 weeks) leaves at most a
       brief SD, which SITC counts as primary resistance (SD < 6 months), and a PR confirmed
       and lost within 12 weeks is implausible;
    7. otherwise (SD for < 168 days; or no response recorded and progression after day 84)
       → ``unknown``. SITC would call SD < 6 months primary resistance, but for targeted
       therapy such patients are outside the MATCH-R definition of acquired resistance and
       the atlas does not force them into either group.
    """
    if progression_day is None:
        return "not_progressed"
    response = best_response if best_response in ("CR", "PR", "SD", "PD") else None
    if response in ("CR", "PR"):
        return "acquired"
    if response == "SD" and progression_day >= DURABLE_SD_DAYS:
        return "acquired"
    if progression_day < MIN_EXPOSURE_DAYS:
        return "unknown"
    if response == "PD":
        return "primary"
    if response is None and progression_day < EARLY_PROGRESSION_DAYS:
        return "primary"
    return "unknown"


def is_somatic(variants: pd.DataFrame) -> pd.Series:
    """Which rows of a ``variants`` table are somatic mutations of the tumour: ``origin`` somatic AND
    ``filter`` PASS.

    The one definition for every reader (tumour fraction, alterations, concordance, the report's
    mutation series, the MAF export). ``origin`` alone is not enough: the caller keeps uncalled
    candidates as ``origin`` somatic with FILTER ``low_evidence`` (and thin sites with
    ``low_depth``) for longitudinal review (docs/calling.md); germline, clonal haematopoiesis and
    artefacts have their own origins.
    """
    return (variants["origin"] == "somatic") & (variants["filter"] == "PASS")


def allele_id(variants: pd.DataFrame) -> pd.Series:
    """``chrom:pos:ref>alt`` of each row: the key of a sequence variant across samples, and the
    ``alteration_id`` of a sequence alteration (``alterations`` / ``mechanisms`` tables)."""
    pos = variants["pos"]
    pos = pos.astype("Int64") if pos.dtype.kind == "f" else pos
    return (variants["chrom"].astype(str) + ":" + pos.astype(str) + ":" + variants["ref"].astype(str) + ">"
            + variants["alt"].astype(str))


#: Standard-normal quantile of a two-sided 95 % interval.
Z95 = 1.959963984540054


def wilson(alt: np.ndarray | int, depth: np.ndarray | int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of the binomial proportion ``alt / depth`` (Wilson 1927; the interval
    recommended over Wald by Brown, Cai & DasGupta, Stat Sci 2001); (nan, nan) where depth == 0.

    Vectorised: ``alt`` and ``depth`` may be arrays. At ``alt`` = 0 / ``alt`` = ``depth`` the bound
    is exactly 0 / 1 (set so rounding cannot exclude it).
    """
    k = np.asarray(alt, dtype=float)
    n = np.asarray(depth, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
        lo = np.where(n > 0, np.where(k <= 0, 0.0, np.clip(centre - half, 0, 1)), np.nan)
        hi = np.where(n > 0, np.where(k >= n, 1.0, np.clip(centre + half, 0, 1)), np.nan)
    return lo, hi
