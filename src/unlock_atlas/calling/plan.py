"""Which normals form the calling panel of normals of a run (parse-time planning for the workflow).

Standard library only: the Snakefile imports this when it is parsed, in the main process and in
every cluster job, so it must not pull numpy/scipy in. The ``calling:`` keys themselves are
checked by the config schema (workflow/schemas/config.schema.yaml, additionalProperties false).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

#: ``calling:`` keys that steer the workflow, not the caller's thresholds.
WORKFLOW_KEYS = ("pon_run_normals", "pon_max_normals")


@dataclass(frozen=True)
class PonPlan:
    """What the workflow does for the background panel: BAMs to count (sample or file id -> path),
    or the prefix of a panel built elsewhere; and the ``calling:`` thresholds as JSON."""

    bams: dict[str, str]
    prefix: str | None
    params_json: str


def spread(items: list[str], n: int) -> list[str]:
    """At most ``n`` of ``items``, evenly spread over their order (deterministic)."""
    if len(items) <= n:
        return list(items)
    if n <= 1:
        return list(items[:n])
    step = (len(items) - 1) / (n - 1)
    idx = sorted({int(i * step + 0.5) for i in range(n)})
    return [items[i] for i in idx]


def plan_panel_of_normals(config: dict, samples: list[tuple[str, str]]) -> PonPlan:
    """The panel of normals of a run (config ``panel_of_normals`` and ``calling:``; schema docs).

    ``samples``: (sample_id, sample_type) in sheet order. A list of BAMs (or one ``.bam``) is
    counted; any other string is a built panel's prefix; null uses the run's white-cell normals
    (at most ``calling.pon_max_normals``, evenly spread) when ``calling.pon_run_normals``.
    """
    calling = dict(config.get("calling") or {})
    run_normals = bool(calling.pop("pon_run_normals", True))
    max_n = int(calling.pop("pon_max_normals", 40))
    params_json = json.dumps(calling, sort_keys=True)
    given = config.get("panel_of_normals")
    if isinstance(given, str) and not given.endswith(".bam"):
        return PonPlan({}, given, params_json)
    if given:
        paths = [given] if isinstance(given, str) else list(given)
        ids = [f"pon{i:03d}_{Path(b).name.removesuffix('.bam')}" for i, b in enumerate(paths)]
        return PonPlan(dict(zip(ids, paths)), None, params_json)
    if run_normals:
        normals = spread([s for s, t in samples if t == "normal"], max_n)
        return PonPlan({s: s for s in normals}, None, params_json)
    return PonPlan({}, None, params_json)
