"""Panel of normals: per position x allele sufficient statistics of the background error.

``unlock-atlas pon`` counts every normal BAM once over the panel (the counting rules of
:mod:`.pileup`, so that a normal counted here and as a patient's matched normal gives the same
numbers) and keeps, for each position and allele, what the beta-binomial background of
:mod:`.model` needs: over the normals that do not *carry* the allele (AF < ``carrier_af``) the
number of normals ``S``, fragments ``N = sum n``, ``N2 = sum n^2``, alt fragments ``K = sum k``
and ``K2N = sum k^2 / n``; plus how many normals carry it and how many show it at an
artefact-like level (the ``pon`` filter's hits). A normal whose depth at a position is below
``min_depth`` is not counted there.

Two Parquet files (prefix ``P``):

* ``P.sites.parquet``: chrom, pos (1-based), S, N, N2 for every panel position;
* ``P.alleles.parquet``: chrom, pos, ref, alt, K, K2N, hits, carriers, carrier_S, carrier_N,
  carrier_N2 for every allele seen in at least one normal (the carriers' depths are subtracted
  from the site's S/N/N2 when the allele is looked up).

The normals' sample IDs are stored in the file metadata: a patient whose matched normal is one
of them is not counted twice (:meth:`PanelOfNormals.stats`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_path
from ..errors import InputError, Problem
from . import model
from .genotype import Key, lookup
from .pileup import SampleCounts
from .plan import PonPlan, plan_panel_of_normals, spread  # noqa: F401 - re-exported (planning lives in plan.py)

SITE_COLUMNS = ["chrom", "pos", "S", "N", "N2"]
ALLELE_COLUMNS = ["chrom", "pos", "ref", "alt", "K", "K2N", "hits", "carriers", "carrier_S", "carrier_N", "carrier_N2"]


@dataclass
class AlleleStats:
    """Background sums of one allele over the panel's non-carrier normals (module docstring)."""

    S: int = 0
    N: float = 0.0
    N2: float = 0.0
    K: float = 0.0
    K2N: float = 0.0
    hits: int = 0
    carriers: int = 0

    def add(self, k: int, n: int, params: model.CallingParams) -> None:
        """Add one normal's ``k`` alt of ``n`` fragments (carrier / hit / background by its AF)."""
        if n < params.min_depth:
            return
        if k >= params.carrier_af * n:
            self.carriers += 1
            return
        self.S += 1
        self.N += n
        self.N2 += float(n) * n
        self.K += k
        self.K2N += k * k / n
        if k >= params.pon_hit_alt and k >= params.pon_hit_af * n:
            self.hits += 1


class Accumulator:
    """Streaming sums over normals counted one at a time (a normal's counts are dropped after
    :meth:`add`, so memory is one sample's counts plus the sums, whatever the panel's size)."""

    def __init__(self, params: model.CallingParams = model.DEFAULT):
        self.params = params
        self.samples: list[str] = []
        self._regions: list[tuple[str, int, int, str]] | None = None
        self._site: list[dict[str, np.ndarray]] = []
        self._events: dict[Key, list[float]] = {}

    def add(self, sc: SampleCounts) -> None:
        """Add one normal's counts."""
        prm = self.params
        regions = [(r.chrom, r.start, r.end, r.ref) for r in sc.regions]
        if self._regions is None:
            self._regions = regions
            for _, start, end, _ in regions:
                L = end - start
                self._site.append({"S": np.zeros(L, np.int64), "N": np.zeros(L), "N2": np.zeros(L),
                                   **{k: np.zeros((L, 4)) for k in ("K", "K2N", "hits", "car", "car_n", "car_n2")}})
        elif [x[:3] for x in regions] != [x[:3] for x in self._regions]:
            raise InputError(Problem(sc.sample_id, "this normal was counted over other intervals than the first",
                                     "count every normal over the same panel BED"))
        self.samples.append(sc.sample_id)
        for r, acc in zip(sc.regions, self._site):
            tot = (r.fwd[:, :4] + r.rev[:, :4]).astype(float)
            n = tot.sum(axis=1)
            ok = n >= prm.min_depth
            acc["S"] += ok
            acc["N"] += np.where(ok, n, 0)
            acc["N2"] += np.where(ok, n * n, 0)
            nn = np.where(ok, n, 1.0)[:, None]
            carrier = ok[:, None] & (tot >= prm.carrier_af * nn)
            bgk = np.where(ok[:, None] & ~carrier, tot, 0.0)
            acc["K"] += bgk
            acc["K2N"] += bgk * bgk / nn
            acc["hits"] += (bgk >= prm.pon_hit_alt) & (bgk >= prm.pon_hit_af * nn)
            acc["car"] += carrier
            acc["car_n"] += np.where(carrier, nn, 0.0)
            acc["car_n2"] += np.where(carrier, nn * nn, 0.0)
        for key in sc.events:
            o = lookup(sc, key)
            if o.depth < prm.min_depth:
                continue
            e = self._events.setdefault(key, [0.0] * 7)  # K, K2N, hits, carriers, carrier_N, carrier_N2
            if o.alt >= prm.carrier_af * o.depth:
                e[3] += 1
                e[4] += o.depth
                e[5] += float(o.depth) ** 2
            else:
                e[0] += o.alt
                e[1] += o.alt * o.alt / o.depth
                e[2] += int(o.alt >= prm.pon_hit_alt and o.alt >= prm.pon_hit_af * o.depth)

    def class_models(self) -> dict[str, dict[str, float]]:
        """Empirical-Bayes prior per substitution class (:func:`.model.class_model`) from the sums."""
        if self._regions is None:
            return {}
        out = {}
        for ri, rb in enumerate("ACGT"):
            for ai, ab in enumerate("ACGT"):
                if ri == ai:
                    continue
                parts = {k: [] for k in ("p", "n", "s", "n2", "k2n")}
                for (_, _, _, ref), acc in zip(self._regions, self._site):
                    rows = np.frombuffer(ref.encode(), np.uint8) == ord(rb)
                    s_ = acc["S"][rows] - acc["car"][rows, ai]
                    n = acc["N"][rows] - acc["car_n"][rows, ai]
                    parts["n"].append(n)
                    parts["s"].append(s_)
                    parts["n2"].append(acc["N2"][rows] - acc["car_n2"][rows, ai])
                    parts["k2n"].append(acc["K2N"][rows, ai])
                    parts["p"].append(np.divide(acc["K"][rows, ai], n, out=np.zeros_like(n), where=n > 0))
                arr = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
                out[f"{rb}>{ab}"] = model.class_model(arr["p"], arr["n"], arr["s"], arr["n2"], arr["k2n"],
                                                      self.params.prior_floor)
        return out

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The (sites, alleles) tables (module docstring)."""
        if self._regions is None:
            raise InputError(Problem("panel_of_normals", "no normal to build a panel of normals from",
                                     "give at least one normal BAM"))
        site_parts, allele_parts = [], []
        for (chrom, start, end, ref), acc in zip(self._regions, self._site):
            pos = np.arange(start + 1, end + 1)
            site_parts.append(pd.DataFrame({"chrom": chrom, "pos": pos, "S": acc["S"], "N": acc["N"], "N2": acc["N2"]}))
            ref_idx = np.array(["ACGT".find(b) for b in ref])
            for ai, ab in enumerate("ACGT"):
                keep = ((acc["K"][:, ai] > 0) | (acc["car"][:, ai] > 0)) & (ref_idx != ai) & (ref_idx >= 0)
                if not keep.any():
                    continue
                idx = np.flatnonzero(keep)
                allele_parts.append(pd.DataFrame({
                    "chrom": chrom, "pos": pos[idx], "ref": [ref[i] for i in idx], "alt": ab,
                    "K": acc["K"][idx, ai], "K2N": acc["K2N"][idx, ai], "hits": acc["hits"][idx, ai].astype(int),
                    "carriers": acc["car"][idx, ai].astype(int), "carrier_S": acc["car"][idx, ai].astype(int),
                    "carrier_N": acc["car_n"][idx, ai], "carrier_N2": acc["car_n2"][idx, ai]}))
        ev = [[k[0], k[1], k[2], k[3], e[0], e[1], int(e[2]), int(e[3]), int(e[3]), e[4], e[5]]
              for k, e in sorted(self._events.items()) if e[0] > 0 or e[3] > 0]
        if ev:
            allele_parts.append(pd.DataFrame(ev, columns=ALLELE_COLUMNS))
        sites = pd.concat(site_parts, ignore_index=True)
        alleles = (pd.concat(allele_parts, ignore_index=True) if allele_parts
                   else pd.DataFrame({c: pd.Series([], dtype=object if c in ("chrom", "ref", "alt") else float)
                                      for c in ALLELE_COLUMNS}))
        return sites, alleles

    def panel(self) -> PanelOfNormals:
        """The panel of normals of the normals added so far."""
        sites, alleles = self.tables()
        return PanelOfNormals(sites, alleles, list(self.samples), self.class_models())


def build(samples: list[SampleCounts], params: model.CallingParams = model.DEFAULT) -> PanelOfNormals:
    """The panel of normals counted over the same panel intervals (in memory)."""
    acc = Accumulator(params)
    for sc in samples:
        acc.add(sc)
    return acc.panel()


def write(panel: PanelOfNormals, prefix: str | Path) -> tuple[Path, Path]:
    """Write ``prefix.sites.parquet`` and ``prefix.alleles.parquet`` atomically."""
    meta = {b"unlock_atlas_pon": json.dumps({"samples": panel.sample_ids, "classes": panel.classes}).encode()}
    out = []
    for name, df, cols in (("sites", panel.sites, SITE_COLUMNS), ("alleles", panel.alleles, ALLELE_COLUMNS)):
        path = Path(f"{prefix}.{name}.parquet")
        table = pa.Table.from_pandas(df[cols].reset_index(drop=True), preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
        with atomic_path(path, suffix=".parquet") as tmp:
            pq.write_table(table, tmp, compression="zstd")
        out.append(path)
    return out[0], out[1]


class PanelOfNormals:
    """A built panel of normals, looked up per allele (module docstring).

    SNV alleles are found by binary search in per-chromosome arrays keyed ``pos * 4 + alt``
    (a 1-Mb panel has ~3 million allele rows: a Python dict of them would cost ~1 GB);
    indel/MNV alleles, few, by dictionary.
    """

    def __init__(self, sites: pd.DataFrame, alleles: pd.DataFrame, sample_ids: list[str],
                 classes: dict[str, dict[str, float]] | None = None):
        self.sample_ids = list(sample_ids)
        self.sites, self.alleles = sites, alleles
        #: empirical-Bayes prior per substitution class (model.class_model); {} = none
        self.classes = {c: v for c, v in (classes or {}).items() if np.isfinite(v.get("a", np.nan))}
        self._sites: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for chrom, g in sites.groupby("chrom", sort=False):
            g = g.sort_values("pos")
            self._sites[str(chrom)] = (g["pos"].to_numpy(np.int64), g[["S", "N", "N2"]].to_numpy(float))
        snv = (alleles["ref"].str.len() == 1) & (alleles["alt"].str.len() == 1)
        self._snv: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        vals = ["K", "K2N", "hits", "carriers", "carrier_S", "carrier_N", "carrier_N2"]
        for chrom, g in alleles[snv].groupby("chrom", sort=False):
            code = g["pos"].to_numpy(np.int64) * 4 + g["alt"].map("ACGT".find).to_numpy(np.int64)
            order = np.argsort(code, kind="stable")
            self._snv[str(chrom)] = (code[order], g[vals].to_numpy(float)[order])
        self._other = {(r.chrom, int(r.pos), r.ref, r.alt): np.array([getattr(r, v) for v in vals], float)
                       for r in alleles[~snv].itertuples(index=False)}

    @staticmethod
    def _find(table: tuple[np.ndarray, np.ndarray] | None, code: int) -> np.ndarray | None:
        if table is None:
            return None
        i = int(np.searchsorted(table[0], code))
        return table[1][i] if i < len(table[0]) and table[0][i] == code else None

    @classmethod
    def read(cls, prefix: str | Path) -> PanelOfNormals:
        """Read ``prefix.sites.parquet`` / ``prefix.alleles.parquet`` (a clear error if absent or foreign)."""
        paths = [Path(f"{prefix}.sites.parquet"), Path(f"{prefix}.alleles.parquet")]
        try:
            tables = [pq.read_table(p) for p in paths]
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(Problem(str(prefix), f"cannot read the panel of normals: {exc}",
                                     "build it with `unlock-atlas pon` (rule build_pon)")) from None
        meta = (tables[0].schema.metadata or {}).get(b"unlock_atlas_pon")
        for p, t, cols in zip(paths, tables, (SITE_COLUMNS, ALLELE_COLUMNS)):
            if meta is None or set(cols) - set(t.column_names):
                raise InputError(Problem(str(p), "not a panel of normals written by `unlock-atlas pon`",
                                         "rebuild it with `unlock-atlas pon`"))
        info = json.loads(meta)
        return cls(tables[0].to_pandas(), tables[1].to_pandas(), info["samples"], info.get("classes"))

    def stats(self, key: Key) -> AlleleStats:
        """Background sums of allele ``key`` over the panel's non-carrier normals."""
        site = self._find(self._sites.get(key[0]), key[1])
        s_, n, n2 = (int(site[0]), float(site[1]), float(site[2])) if site is not None else (0, 0.0, 0.0)
        if len(key[2]) == 1 and len(key[3]) == 1:
            a = self._find(self._snv.get(key[0]), key[1] * 4 + "ACGT".find(key[3]))
        else:
            a = self._other.get(key)
        if a is None:
            return AlleleStats(S=s_, N=n, N2=n2)
        return AlleleStats(S=s_ - int(a[4]), N=n - a[5], N2=n2 - a[6], K=float(a[0]), K2N=float(a[1]),
                           hits=int(a[2]), carriers=int(a[3]))


def allele_background(key: Key, prior: float, normal_obs: tuple[int, int] | None, normal_id: str | None,
                      pon: PanelOfNormals | None, params: model.CallingParams = model.DEFAULT,
                      without_normal: bool = False) -> tuple[model.Background, AlleleStats]:
    """Beta-binomial background of ``key`` from the panel of normals plus the matched normal.

    The matched normal (``normal_obs`` = (alt, depth)) is added unless it is one of the panel's
    normals (already counted there with the same counting rules) or carries the allele. With
    ``without_normal`` the matched normal is left out (subtracted from the panel's sums when it
    is one of its normals): the background against which the normal's OWN evidence is tested
    (its alt fragments must not explain themselves away).
    """
    st = pon.stats(key) if pon is not None else AlleleStats()
    in_panel = pon is not None and normal_id in pon.sample_ids
    if normal_obs is not None:
        k, n = normal_obs
        if without_normal and in_panel and n >= params.min_depth and k < params.carrier_af * n:
            st.S -= 1
            st.N -= n
            st.N2 -= float(n) * n
            st.K -= k
            st.K2N -= k * k / n
            st.hits -= int(k >= params.pon_hit_alt and k >= params.pon_hit_af * n)
        elif not without_normal and not in_panel:
            st.add(k, n, params)
    cm = pon.classes.get(f"{key[2]}>{key[3]}") if pon is not None and len(key[2]) == len(key[3]) == 1 else None
    if cm:
        bg = model.site_background(st.K, st.N, cm["mu"], params, samples=st.S, n2=st.N2, k2n=st.K2N,
                                   weight=cm["a"], cv2=cm["cv2"])
    else:
        bg = model.site_background(st.K, st.N, prior, params, samples=st.S, n2=st.N2, k2n=st.K2N)
    return bg, st


def build_from_bams(bams: dict[str, str | Path], fasta: str | Path, intervals: list[tuple[str, int, int]],
                    params: model.CallingParams = model.DEFAULT, min_mapq: int = 20, min_baseq: int = 20,
                    progress=None) -> PanelOfNormals:
    """Count each normal BAM over the panel, one at a time, and build the tables."""
    from .pileup import count_sample

    acc = Accumulator(params)
    for i, (sid, bam) in enumerate(bams.items(), 1):
        acc.add(count_sample(bam, fasta, intervals, sid, min_mapq, min_baseq))
        if progress:
            progress(i, len(bams), sid)
    return acc.panel()

