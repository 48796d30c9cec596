"""Per-patient calling: count every sample, discover candidates, genotype the union jointly,
filter, and write the VCF and the atlas ``variants`` part."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from ..atomic import atomic_path
from ..domain import allele_id, wilson
from ..errors import InputError, Problem
from ..reference import read_bed, read_bed_records
from . import genotype, model
from .filters import CONTEXT_FLANK, REGISTRY, VariantEvidence, ch_genes
from .origin import classify_variant
from .pileup import SampleCounts, count_sample, merge_intervals
from .pon import PanelOfNormals, allele_background

logger = logging.getLogger(__name__)


def read_panel(bed: str | Path) -> list[tuple[str, int, int]]:
    """The panel BED's intervals, merged (0-based half-open); the BED is read by
    :func:`unlock_atlas.reference.read_bed` (errors name the file and line)."""
    return merge_intervals([(iv.chrom, iv.start, iv.end) for iv in read_bed(bed)])


def read_panel_genes(bed: str | Path) -> dict[str, list[tuple[int, int, str]]]:
    """Gene name (BED column 4) of each panel interval, per chromosome, in file order (an unnamed
    interval is named ``chrom:start-end``, which is no gene)."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    for _, iv in read_bed_records(bed):
        out.setdefault(iv.chrom, []).append((iv.start, iv.end, iv.name))
    return out


def _gene_at(genes: dict[str, list[tuple[int, int, str]]], chrom: str, pos1: int) -> str | None:
    for s, e, g in genes.get(chrom, ()):
        if s < pos1 <= e:
            return g
    return None


def _context(counts: SampleCounts, chrom: str, pos1: int) -> tuple[str, int]:
    """Reference around ``pos1`` (:data:`.filters.CONTEXT_FLANK` bases each side, clipped at the
    interval's ends) and the index of ``pos1`` in it."""
    region = counts.region_at(chrom, pos1 - 1)
    if region is None:
        return "", 0
    i = pos1 - 1 - region.start
    lo = max(0, i - CONTEXT_FLANK)
    return region.ref[lo:i + CONTEXT_FLANK + 1], i - lo


def genotype_patient(counts: dict[str, SampleCounts], normal: str | None, sample_types: dict[str, str],
                     pon: PanelOfNormals | None = None, params: model.CallingParams = model.DEFAULT,
                     genes: dict[str, list[tuple[int, int, str]]] | None = None) -> pd.DataFrame:
    """Joint genotyping of the union of candidates in all the patient's samples.

    The background of each allele is beta-binomial from the panel of normals plus the matched
    normal (:func:`.pon.allele_background`); ``genes`` (panel intervals' gene names) select the
    clonal-haematopoiesis power check of :func:`.origin.decide_origin`.
    Returns one row per variant x sample with the per-sample FORMAT values, status, FILTER and origin.
    """
    priors = genotype.class_priors(list(counts.values()), params)
    logger.info("class priors: %s", {k: f"{v:.2e}" for k, v in sorted(priors.items())})
    ch = ch_genes() if genes else frozenset()
    cands: set = set()
    for sc in counts.values():
        cands |= genotype.discover(sc, priors, params)
    rows = []
    for key in sorted(cands, key=lambda k: (k[0], k[1], k[2], k[3])):
        prior = genotype.allele_prior(priors, next(iter(counts.values())), key)
        obs = {s: genotype.lookup(sc, key) for s, sc in counts.items()}
        nobs = (obs[normal].alt, obs[normal].depth) if normal is not None else None
        bg, st = allele_background(key, prior, nobs, normal, pon, params)
        # the normal's own evidence is tested against the background without it (leave-one-out)
        bg_n = allele_background(key, prior, nobs, normal, pon, params, without_normal=True)[0] if nobs else bg
        per: dict[str, dict] = {}
        for s, o in obs.items():
            lo, hi = wilson(o.alt, o.depth)
            b = bg_n if s == normal else bg
            ds = model.detection_score_bb(o.alt, o.depth, b.mu, b.rho)
            per[s] = dict(alt=o.alt, ref=o.ref_count, depth=o.depth, af=o.alt / o.depth if o.depth else float("nan"),
                          af_lo=float(lo), af_hi=float(hi), ds=ds, adf=o.adf, adr=o.adr, ref_fwd=o.ref_fwd,
                          ref_rev=o.ref_rev, rpos=o.mean_rpos if o.alt else 0.0, lowmq_frac=o.lowmq_frac,
                          background=bg.mu)
        de_novo = any(model.status(g["alt"], g["depth"], g["ds"], False, params) == "called" for g in per.values())
        for g in per.values():
            g["status"] = model.status(g["alt"], g["depth"], g["ds"], de_novo, params)
        in_ch_gene = bool(genes) and _gene_at(genes, key[0], key[1]) in ch
        context, offset = _context(next(iter(counts.values())), key[0], key[1])
        ev = VariantEvidence(per, normal, sample_types, st.hits, in_ch_gene, key, context, offset)
        origin, filt = classify_variant(ev, params)
        ftxt = ";".join(filt) if filt else "PASS"
        _tumour_informed(per, sample_types, origin == "somatic" and ftxt == "PASS", bg, params)
        kind = "snv" if len(key[2]) == len(key[3]) == 1 else ("mnv" if len(key[2]) == len(key[3]) else "indel")
        for s, g in per.items():
            g.pop("background")
            rows.append(dict(chrom=key[0], pos=key[1], v_ref=key[2], v_alt=key[3], kind=kind, sample_id=s,
                             background=bg.mu, background_rho=bg.rho, pon_normals=bg.normals, filter=ftxt,
                             origin=origin, **g))
    return pd.DataFrame(rows)


def _tumour_informed(per: dict[str, dict], sample_types: dict[str, str], somatic: bool, bg: model.Background,
                     params: model.CallingParams) -> None:
    """Fill ``ti_p`` / ``ti_status`` of each tumour sample when the variant is KNOWN: somatic, FILTER
    PASS and called in at least one of the patient's tumour samples (clonal haematopoiesis, germline
    and artefacts are never known); null otherwise and in the normal (model.ti_status; docs/calling.md §3b)."""
    tumour = [s for s in per if sample_types.get(s) in ("tissue", "plasma")]
    known = somatic and any(per[s]["status"] == "called" for s in tumour)
    for s, g in per.items():
        if known and s in tumour:
            p = float(np.exp(model.betabinom_logsf(g["alt"], g["depth"], bg.mu, bg.rho))) if g["alt"] > 0 else 1.0
            g["ti_p"], g["ti_status"] = p, model.ti_status(g["alt"], g["depth"], p, params)
        else:
            g["ti_p"], g["ti_status"] = None, None


def write_vcf(calls: pd.DataFrame, samples: list[str], fasta: str | Path, out: str | Path, patient: str,
              params: model.CallingParams = model.DEFAULT) -> Path:
    """Write a bgzipped, tabix-indexed VCF 4.2 (all samples as columns), atomically; the ``##FILTER``
    lines state the thresholds in ``params``."""
    header = pysam.VariantHeader()
    header.add_line("##fileformat=VCFv4.2")
    header.add_line(f"##source=unlock-atlas call (patient {patient})")
    with pysam.FastaFile(str(fasta)) as fa:
        for name, ln in zip(fa.references, fa.lengths):
            header.contigs.add(name, length=ln)
    for fid, f in REGISTRY.items():
        header.filters.add(fid, None, None, f.header(params))
    header.info.add("ORIGIN", 1, "String", "Variant origin: somatic, germline, chip (clonal haematopoiesis), "
                    "ch_not_excluded (CH not excluded: normal underpowered) or artefact")
    header.info.add("KIND", 1, "String", "snv, mnv or indel")
    header.info.add("BG", 1, "Float", "Background error rate: beta-binomial mean per position and allele from the "
                    "panel of normals and the matched normal, shrunk to the class prior")
    header.info.add("BGRHO", 1, "Float", "Background overdispersion: beta-binomial intra-class correlation")
    header.info.add("PON", 1, "Integer", "Non-carrier normals (panel of normals + matched normal) behind BG")
    fmt = [("AD", "R", "Integer", "Fragments supporting REF and ALT (dedup, MAPQ>=20, BQ>=20, mates once)"),
           ("DP", 1, "Integer", "Informative fragments at the site"),
           ("AF", "A", "Float", "Alt allele fraction AD[ALT]/DP"),
           ("AF_LO", "A", "Float", "Wilson 95% interval lower bound of AF"),
           ("AF_HI", "A", "Float", "Wilson 95% interval upper bound of AF"),
           ("DS", "A", "Float", "Detection score -10log10 P(>=alt | Binomial(DP, background error))"),
           ("ADF", "R", "Integer", "Fragments supporting REF and ALT on the forward strand"),
           ("ADR", "R", "Integer", "Fragments supporting REF and ALT on the reverse strand"),
           ("ST", 1, "String", "Per-sample status: called, detected_below_threshold, not_detected, not_covered")]
    for f in fmt:
        header.formats.add(*f)
    for s in samples:
        header.add_sample(s)
    out = Path(out)
    with atomic_path(out, suffix=".vcf.gz") as tmp:
        with pysam.VariantFile(str(tmp), "wz", header=header) as vf:
            if len(calls):
                for (chrom, pos, ref, alt), grp in calls.groupby(["chrom", "pos", "v_ref", "v_alt"], sort=False):
                    first = grp.iloc[0]
                    rec = vf.new_record(contig=chrom, start=int(pos) - 1, alleles=(ref, alt),
                                        filter=first["filter"].split(";"),
                                        info={"ORIGIN": first["origin"], "KIND": first["kind"],
                                              "BG": float(first["background"]),
                                              "BGRHO": float(first["background_rho"]),
                                              "PON": int(first["pon_normals"])})
                    for g in grp.itertuples():
                        smp = rec.samples[g.sample_id]
                        smp["AD"] = (int(g.ref), int(g.alt))
                        smp["DP"] = int(g.depth)
                        if g.depth > 0:
                            smp["AF"] = round(float(g.af), 6)
                            smp["AF_LO"] = round(float(g.af_lo), 6)
                            smp["AF_HI"] = round(float(g.af_hi), 6)
                        smp["DS"] = round(float(g.ds), 2)
                        smp["ADF"] = (int(g.ref_fwd), int(g.adf))
                        smp["ADR"] = (int(g.ref_rev), int(g.adr))
                        smp["ST"] = g.status
                    vf.write(rec)
        pysam.tabix_index(str(tmp), preset="vcf", force=True)
        tbi = Path(f"{tmp}.tbi")
    tbi.replace(f"{out}.tbi")
    return out


def variants_table(calls: pd.DataFrame, patient: str, sample_types: dict[str, str]) -> pd.DataFrame:
    """The atlas ``variants`` rows (design.md §4) of one patient."""
    if not len(calls):
        return pd.DataFrame({"patient_id": pd.Series([], dtype=str)})
    out = pd.DataFrame({
        "patient_id": patient, "sample_id": calls["sample_id"],
        "sample_type": calls["sample_id"].map(sample_types), "chrom": calls["chrom"], "pos": calls["pos"],
        "ref": calls["v_ref"], "alt": calls["v_alt"], "kind": calls["kind"], "alt_reads": calls["alt"],
        "ref_reads": calls["ref"], "depth": calls["depth"],
        "vaf": calls["af"].where(calls["depth"] > 0), "vaf_ci_low": calls["af_lo"], "vaf_ci_high": calls["af_hi"],
        "detection_score": calls["ds"], "status": calls["status"], "filter": calls["filter"], "origin": calls["origin"],
        "background_error": calls["background"], "background_rho": calls["background_rho"],
        "ti_p_value": calls["ti_p"], "ti_status": calls["ti_status"],
    })
    out.insert(out.columns.get_loc("kind"), "allele_id", allele_id(out))
    return out


def call_patient(patient: str, bams: dict[str, str | Path], normal: str | None, sample_types: dict[str, str],
                 panel: str | Path, fasta: str | Path, min_mapq: int = 20, min_baseq: int = 20,
                 pon: PanelOfNormals | None = None, params: model.CallingParams = model.DEFAULT) -> pd.DataFrame:
    """Count, discover, genotype and filter all samples of one patient; returns the long table."""
    if normal is not None and normal not in bams:
        raise InputError(Problem("--normal", f"normal sample {normal!r} has no BAM in --bams",
                                 "add NORMAL=path to --bams or drop --normal"))
    intervals = read_panel(panel)
    counts = {s: count_sample(b, fasta, intervals, s, min_mapq, min_baseq) for s, b in bams.items()}
    calls = genotype_patient(counts, normal, sample_types, pon, params, read_panel_genes(panel))
    n_var = calls[["chrom", "pos", "v_ref", "v_alt"]].drop_duplicates().shape[0] if len(calls) else 0
    logger.info("%s: %d candidate variants genotyped in %d samples (panel of normals: %s)", patient, n_var,
                len(bams), f"{len(pon.sample_ids)} normals" if pon is not None else "none")
    return calls


__all__ = ["call_patient", "genotype_patient", "read_panel", "variants_table", "write_vcf", "np"]
