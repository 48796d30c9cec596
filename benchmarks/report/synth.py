"""A realistic synthetic atlas for the cohort report (tests and benchmark), built through the REAL writer.

Unlike benchmarks/atlas_load (random values per column type, for load timing), the report needs
coherent content: drugs with their targets, samples at baseline / on treatment / progression,
resistance mutations that rise in blood before progression, amplifications, single-cell tables.
Each patient follows one of :data:`SCENARIOS` (resistance-biology.md §2 examples); per-patient
parts (raw IDs) are written with ``unlock_atlas.contract.parts.write_part`` and assembled by
``unlock_atlas.atlas.build_atlas`` (pseudonymised), which computes ``cohort_summary`` itself.

:func:`make_cohort` returns the TRUTH the tests compare with (patients, biopsies, resistance
alterations by class), counted here from the scenarios, independently of the atlas code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# (tumour type, drug, drug class, targets, [(mechanism class, subclass, gene, alteration, kind, variant)])
# variant = (chrom, pos, ref, alt) for sequence alterations (GRCh38; the EGFR/KRAS/NRAS/ALK hotspots).
SCENARIOS = [
    ("NSCLC", "osimertinib", "EGFR TKI", "EGFR",
     [("on_target", "ON_TARGET_MUT", "EGFR", "p.C797S", "snv", ("chr7", 55181398, "T", "A"))]),
    ("NSCLC", "osimertinib", "EGFR TKI", "EGFR",
     [("bypass", "BYPASS_RTK", "MET", "amplification", "amplification", None)]),
    ("NSCLC", "osimertinib", "EGFR TKI", "EGFR",
     [("bypass", "BYPASS_DOWNSTREAM", "KRAS", "p.G12D", "snv", ("chr12", 25245350, "C", "T")),
      ("bypass", "BYPASS_RTK", "MET", "amplification", "amplification", None)]),
    ("NSCLC", "lorlatinib", "ALK TKI", "ALK",
     [("on_target", "ON_TARGET_MUT", "ALK", "p.G1202R", "snv", ("chr2", 29220765, "C", "T"))]),
    ("melanoma", "dabrafenib+trametinib", "BRAF inhibitor+MEK inhibitor", "BRAF,MAP2K1,MAP2K2",
     [("bypass", "BYPASS_DOWNSTREAM", "NRAS", "p.Q61K", "snv", ("chr1", 114713909, "G", "T"))]),
    ("melanoma", "dabrafenib+trametinib", "BRAF inhibitor+MEK inhibitor", "BRAF,MAP2K1,MAP2K2",
     [("on_target", "ON_TARGET_AMP", "BRAF", "amplification", "amplification", None)]),
    ("NSCLC", "osimertinib", "EGFR TKI", "EGFR", [("unknown", "UNKNOWN", None, None, None, None)]),
    ("NSCLC", "osimertinib", "EGFR TKI", "EGFR", [("other", "LINEAGE_HISTOLOGIC", None, "SCLC", None, None)]),
    ("melanoma", "dabrafenib+trametinib", "BRAF inhibitor+MEK inhibitor", "BRAF,MAP2K1,MAP2K2", []),  # not progressed
]
TP53 = ("chr17", 7674220, "C", "T", "TP53", "p.R248Q")          # truncal driver in every patient
CN_GENES = ["EGFR", "MET", "BRAF", "KRAS", "CDKN2A", "ERBB2", "ALK", "NRAS"]
CELL_TYPES = [("epithelial", True, 0.45), ("T cell", False, 0.2), ("macrophage", False, 0.15),
              ("fibroblast", False, 0.12), ("endothelial", False, 0.08)]
PROGRAMMES = ["persister", "emt_partial", "ifng_6"]
QC = {"mean_target_depth": 900.0, "median_target_depth": 870.0, "on_target_fraction": 0.6, "duplicate_rate": 0.1,
      "insert_size_median": 167.0, "n_reads": 10**6, "zero_coverage_targets": 0, "n_targets": 40}


def _patient(i: int, rng: np.random.Generator) -> dict:
    tt, drug, dclass, targets, mechs = SCENARIOS[i % len(SCENARIOS)]
    progressed = bool(mechs)
    prog = int(rng.integers(150, 420)) if progressed else None
    return dict(patient_id=f"UNL{i + 1:04d}", tumour_type=tt, drug=drug, drug_class=dclass, targets=targets,
                progression_day=prog, best_response="PR" if progressed else "SD",
                early_trial_after=bool(rng.random() < 0.4) if progressed else None, mechs=mechs)


def _samples(p: dict, rng: np.random.Generator) -> list[dict]:
    pid, prog = p["patient_id"], p["progression_day"]
    rows = [("N", "normal", None, 0), ("T-BL", "tissue", "baseline", -7), ("P-BL", "plasma", "baseline", 0),
            ("P-OT1", "plasma", "on_treatment", 56), ("P-OT2", "plasma", "on_treatment", 112)]
    if prog:
        rows += [("P-OT3", "plasma", "on_treatment", max(prog - 50, 120)), ("P-PD", "plasma", "progression", prog),
                 ("T-PD", "tissue", "progression", prog + 3)]
    else:
        rows += [("P-OT3", "plasma", "on_treatment", 240)]
    out = []
    for s, st, tp, day in rows:
        out.append(dict(patient_id=pid, sample_id=f"{pid}-{s}", sample_type=st, timepoint=tp, collection_day=day,
                        purity=0.6 if st == "tissue" else None,
                        histology=("SCLC" if s == "T-PD" and any(m[1] == "LINEAGE_HISTOLOGIC" for m in p["mechs"])
                                   else "adenocarcinoma") if st == "tissue" else None,
                        scrna=f"/sc/{pid}-{s}.h5ad" if st == "tissue" and int(pid[3:]) % 2 else None,
                        bam=f"/bams/{pid}-{s}.bam", fastq_1=None, fastq_2=None))
    return out


def _tf(s: dict, prog: int | None) -> float:
    """Plasma tumour fraction: falls on treatment, rises again towards progression."""
    d = s["collection_day"]
    if s["sample_type"] == "tissue":
        return 0.6
    if prog is None:
        return 0.12 if d == 0 else 0.02
    return 0.15 if d == 0 else (0.03 if d < prog - 60 else (0.08 if d < prog else 0.2))


def _tables(p: dict, samples: list[dict], rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    pid, prog = p["patient_id"], p["progression_day"]
    tumour = [s for s in samples if s["sample_type"] != "normal"]
    var, alt, mech, ct, cn, comp, progs = [], [], [], [], [], [], []
    seq = [(m, m[5]) for m in p["mechs"] if m[5] is not None]
    cna = [m for m in p["mechs"] if m[4] == "amplification"]
    for s in samples:
        tf = _tf(s, prog) if s["sample_type"] != "normal" else 0.0
        depth = int(rng.integers(600, 1500)) if s["sample_type"] == "plasma" else int(rng.integers(250, 500))
        items = [(TP53[:4], TP53[4], TP53[5], tf / 2)]
        for m, v in seq:   # absent at baseline; appears ~60 days before progression
            level = 0.0 if s["collection_day"] < (prog or 10**6) - 60 else tf / 2 * 0.6
            items.append((v, m[2], m[3], level))
        for (chrom, pos, ref, altb), gene, hg, level in items:
            a = int(rng.binomial(depth, level)) if level > 0 else 0
            status = "called" if a >= 3 else ("detected_below_threshold" if a else "not_detected")
            var.append(dict(patient_id=pid, sample_id=s["sample_id"], sample_type=s["sample_type"], chrom=chrom,
                            pos=pos, ref=ref, alt=altb, kind="snv", gene=gene, hgvsp_short=hg, alt_reads=a,
                            ref_reads=depth - a, depth=depth, vaf=a / depth, status=status, filter="PASS",
                            origin="somatic"))
        if s["sample_type"] == "normal":
            continue
        ct.append(dict(patient_id=pid, sample_id=s["sample_id"], sample_type=s["sample_type"], timepoint=s["timepoint"],
                       collection_day=s["collection_day"], tumour_fraction=tf, method="truncal_vaf", n_variants=1,
                       informative=tf >= 0.03,
                       **({} if s["sample_type"] == "tissue" or s["timepoint"] == "on_treatment" else dict(
                           n_tissue_mutations=1 + len(seq) * (s["timepoint"] == "progression"),
                           n_tissue_mutations_in_plasma=1 + len(seq) * (s["timepoint"] == "progression") * (tf > 0.05),
                           n_plasma_only_mutations=0))))
        for g in CN_GENES:
            amp = any(m[2] == g for m in cna) and s["collection_day"] >= (prog or 10**6) - 60
            c = 9.0 if amp else 2.0 + float(rng.normal(0, 0.1))
            cn.append(dict(patient_id=pid, sample_id=s["sample_id"], sample_type=s["sample_type"], gene=g, chrom="chr1",
                           n_targets=4, copy_number=c, log2_ratio=float(np.log2((tf * c + (1 - tf) * 2) / 2)),
                           call="amplification" if amp else "neutral"))
        if s["scrna"]:
            total = int(rng.integers(800, 2000))
            late = s["timepoint"] == "progression"
            for ctp, malig, frac in CELL_TYPES:
                n = int(total * frac)
                comp.append(dict(patient_id=pid, sample_id=s["sample_id"], timepoint=s["timepoint"], cell_type=ctp,
                                 malignant=malig, n_cells=n, fraction=n / total, n_cells_total=total))
                for k, prg in enumerate(PROGRAMMES):
                    fh = min(0.9, 0.05 + 0.1 * k + (0.25 if late and malig and prg == "persister" else 0))
                    progs.append(dict(patient_id=pid, sample_id=s["sample_id"], timepoint=s["timepoint"], cell_type=ctp,
                                      malignant=malig, programme=prg, method="zsum_sqrt_n", verified=True, n_cells=n,
                                      mean_score=fh, fraction_high=fh, high_threshold=1.645, genes_measured=20))
    first_pd = next((s["collection_day"] for s in samples if s["sample_type"] == "plasma"
                     and s["collection_day"] >= (prog or 10**6) - 60), None)
    multi = sum(1 for m in p["mechs"] if m[2]) > 1
    for cls, sub, gene, alteration, kind, v in p["mechs"]:
        aid = (f"{v[0]}:{v[1]}:{v[2]}>{v[3]}" if v else (f"{gene}:{kind}" if gene else None))
        fp = first_pd if gene else None
        if gene:
            alt.append(dict(patient_id=pid, alteration_id=aid, kind=kind, gene=gene, chrom=v[0] if v else None,
                            pos=v[1] if v else None, ref=v[2] if v else None, alt=v[3] if v else None,
                            hgvsp_short=alteration if v else None, acquisition="acquired", acquisition_basis="synthetic",
                            at_progression=True, first_detected_day=fp, first_plasma_day=fp, seen_in_tissue=True,
                            seen_in_plasma=True, n_samples_called=3, resistance_relevance="mechanism"))
        mech.append(dict(patient_id=pid, regimen=p["drug"], drug=p["drug"], drug_class=p["drug_class"],
                         **{"class": cls}, subclass=sub, gene=gene, alteration=alteration, alteration_id=aid,
                         kind=kind, acquisition="acquired" if gene else None, phase="na", multiple_mechanisms=multi,
                         evidence="synthetic benchmark row", citation="resistance-biology.md §2" if gene else None,
                         rule="kb_alteration" if gene else "no_mechanism",
                         first_plasma_day=fp, progression_day=prog, lead_time_days=(prog - fp) if fp else None))
    alt.append(dict(patient_id=pid, alteration_id=":".join(map(str, TP53[:2])) + f":{TP53[2]}>{TP53[3]}", kind="snv",
                    gene="TP53", chrom=TP53[0], pos=TP53[1], ref=TP53[2], alt=TP53[3], hgvsp_short=TP53[5],
                    acquisition="pre_existing", acquisition_basis="synthetic", at_progression=bool(prog),
                    first_detected_day=-7, seen_in_tissue=True, seen_in_plasma=True, n_samples_called=len(tumour),
                    resistance_relevance="none"))
    return {"variants": pd.DataFrame(var), "alterations": pd.DataFrame(alt), "mechanisms": pd.DataFrame(mech),
            "ctdna": pd.DataFrame(ct), "copy_number": pd.DataFrame(cn), "sc_composition": pd.DataFrame(comp),
            "sc_programs": pd.DataFrame(progs)}


def make_cohort(root: Path, n_patients: int, seed: int = 8, stages: tuple[str, ...] | None = None) -> tuple[Path, dict]:
    """Write parts and build the atlas at ``root/results/atlas``; returns (results dir, truth).

    ``stages`` limits the part tables written (e.g. ``()`` = no stage ran: empty tables).
    """
    from unlock_atlas.atlas import build_atlas
    from unlock_atlas.contract.parts import write_part

    rng = np.random.default_rng(seed)
    pats, samples = [], []
    parts = root / "tables"
    truth = {"patients_included": n_patients, "biopsies": 0, "sequenced_samples": 0, "on_target": 0, "bypass": 0,
             "other_alterations": 0, "progressed": 0}
    for i in range(n_patients):
        p = _patient(i, rng)
        smp = _samples(p, rng)
        pats.append(p)
        samples += smp
        truth["biopsies"] += sum(s["sample_type"] == "tissue" for s in smp)
        truth["sequenced_samples"] += len(smp)
        truth["progressed"] += p["progression_day"] is not None
        for m in p["mechs"]:
            if m[0] in ("on_target", "bypass") and m[2]:
                truth[m[0]] += 1
        for name, df in _tables(p, smp, rng).items():
            if len(df) and (stages is None or name in stages):
                write_part(df, name, parts / name / f"{p['patient_id']}.parquet")
    pdf = pd.DataFrame([{k: v for k, v in p.items() if k != "mechs"} for p in pats])
    pdf["progression_day"] = pdf["progression_day"].astype("Int64")
    pdf["early_trial_after"] = pdf["early_trial_after"].astype("boolean")
    sdf = pd.DataFrame(samples)
    sdf["collection_day"] = sdf["collection_day"].astype("Int64")
    qc = {s["sample_id"]: QC for s in samples}
    build_atlas(pdf, sdf, qc, root / "results" / "atlas", root / "results" / "private", reference_build="GRCh38",
                config_hash="report-synth", qc_thresholds={}, pseudonymise=True, parts_dir=parts)
    return root / "results", truth
