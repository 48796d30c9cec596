"""Amplification sensitivity: copy number (4, 6, 8, 12) x tumour content (plasma 5/10/20 %,
tissue 30/60 %), with the false-amplification rate on copy-neutral genes (issue 5 Must-show).

Design: a scenario derived from resources/demo_cohort.yaml (same panel, sequencing model and
the chosen cohort's raw depths) with patients B1..B{4*R}; every patient has a white-cell normal, tissue at
purity 0.30 (T-BL) and 0.60 (T-PD), plasma at tumour fraction 0.05 (P-BL), 0.10 (P-OT), 0.20
(P-PD). Patient k amplifies MET, EGFR, KRAS and CDK4 (the amplifiable genes with sequence in the
shared data) at copy numbers rotated through (4, 6, 8, 12), in every tumour sample, so each
(copy number, tumour content) cell gets 4 genes per replicate R; the other 13 panel genes are
copy-neutral and give the false-amplification rate. Copy number is called by the package
functions (coverage -> panel of normals from all normals -> call) with the true tumour content
supplied (as the ctDNA stage will supply the plasma tumour fraction).

Usage: python benchmarks/copynumber/sensitivity.py --out /tmp/cnbench [--replicates 1] [--seed 7] [--depths small|demo]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from unlock_atlas.copynumber.coverage import target_coverage
from unlock_atlas.copynumber.normalise import build_reference
from unlock_atlas.copynumber.sample import call_sample
from unlock_atlas.paths import resolve_data_dir, resources_dir
from unlock_atlas.simulate.run import simulate_cohort

GENES = ["MET", "EGFR", "KRAS", "CDK4"]
CNS = [4, 6, 8, 12]
TC = {"T-BL": 0.30, "T-PD": 0.60, "P-BL": 0.05, "P-OT": 0.10, "P-PD": 0.20}


def scenario(replicates: int, depths: str) -> dict:
    base = yaml.safe_load((resources_dir() / "demo_cohort.yaml").read_text())
    pats = []
    for i in range(4 * replicates):
        k = i % 4
        samples = {"N": {"day": 0}}
        for key, tc in TC.items():
            samples[key] = {"day": {"T-BL": -7, "T-PD": 300, "P-BL": 0, "P-OT": 60, "P-PD": 300}[key],
                            ("purity" if key.startswith("T") else "tf"): tc}
        cn = [{"id": f"{g}_AMP", "gene": g, "cn": {key: CNS[(k + j) % 4] for key in TC}} for j, g in enumerate(GENES)]
        pats.append({"id": f"B{i + 1}", "tumour_type": "NSCLC", "histology": "adenocarcinoma", "drug": "osimertinib",
                     "best_response": "PR", "progression_day": 300, "early_trial_after": False, "samples": samples,
                     "variants": [], "copy_number": cn,
                     "mechanisms": [{"class": "unknown", "subclass": "UNKNOWN", "gene": "", "alteration": "",
                                     "acquisition": "", "phase": "na", "evidence": [], "citation": ""}]})
    base["patients"] = pats
    base["cohorts"] = {"bench": {"patients": [p["id"] for p in pats], "depth": base["cohorts"][depths]["depth"]}}
    return base


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--replicates", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--depths", choices=["demo", "small"], default="small",
                    help="raw depths of the scenario's demo or small cohort (default small: 500x plasma, 300x tissue)")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    scn = a.out / "scenario.yaml"
    scn.write_text(yaml.safe_dump(scenario(a.replicates, a.depths), sort_keys=False))
    t0 = time.monotonic()
    run = a.out / "run"
    if not (run / "truth" / "copy_number.tsv").exists():
        simulate_cohort(run, a.seed, cohort="bench", threads=a.threads, scenario=scn)
    t_sim = time.monotonic() - t0
    data = resolve_data_dir(None, Path.cwd())
    ref_dir = a.out / "reference"
    if not (ref_dir / "panel.bed").exists():
        import subprocess

        subprocess.run([str(Path(sys.executable).parent / "unlock-atlas"), "prepare-reference", "--fasta",
                        str(data / "reference_grch38" / "panel_genes.GRCh38.fa"), "--gtf",
                        str(data / "transcripts_grch38" / "panel_mane_select.GRCh38.gtf"), "--outdir", str(ref_dir),
                        "--panel-genes", ",".join(yaml.safe_load(scn.read_text())["panel_genes"])], check=True)
    samples = pd.read_csv(run / "config" / "samples.tsv", sep="\t")
    truth = pd.read_csv(run / "truth" / "copy_number.tsv", sep="\t")
    t1 = time.monotonic()
    cov_dir = a.out / "cov"
    cov_dir.mkdir(exist_ok=True)
    for s in samples.itertuples():
        target_coverage(run / s.bam, ref_dir / "panel.bed", ref_dir / "genome.fa.gz").to_csv(
            cov_dir / f"{s.sample_id}.tsv", sep="\t", index=False)
    from unlock_atlas.copynumber.coverage import read_coverage
    from unlock_atlas.copynumber.normalise import write_reference

    normals = {s: read_coverage(cov_dir / f"{s}.tsv") for s in samples[samples.sample_type == "normal"].sample_id}
    write_reference(build_reference(normals), str(a.out / "pon.tsv"))
    rows = []
    for s in samples.itertuples():
        tc = float(truth[truth.sample_id == s.sample_id].tumour_content.iloc[0])
        _, g = call_sample(cov_dir / f"{s.sample_id}.tsv", a.out / "pon.tsv", s.sample_id, s.patient_id,
                           s.sample_type, purity=tc if s.sample_type == "tissue" else None,
                           tumour_fraction=tc if s.sample_type == "plasma" else None)
        rows.append(g)
    t_cn = time.monotonic() - t1
    got = pd.concat(rows).merge(truth, on=["sample_id", "gene"])
    got.to_csv(a.out / "calls.tsv", sep="\t", index=False)
    tum = got[got.sample_type != "normal"].copy()
    tum["content"] = tum.apply(lambda r: f"{r.sample_type} {int(round(r.tumour_content_y * 100))} %", axis=1)
    amp = tum[tum.tumour_copy_number > 2]
    lines = ["| tumour content | " + " | ".join(f"CN {c}" for c in CNS) + " | false amplification (neutral genes) |",
             "|---|" + "---|" * (len(CNS) + 1)]
    for content in ["plasma 5 %", "plasma 10 %", "plasma 20 %", "tissue 30 %", "tissue 60 %"]:
        cells = []
        for c in CNS:
            sub = amp[(amp.content == content) & (amp.tumour_copy_number == c)]
            n_amp = int((sub.call == "amplification").sum())
            n_up = int(sub.call.isin(["amplification", "gain"]).sum())
            med = sub.copy_number.median()
            cells.append(f"{n_amp}/{len(sub)} amp ({n_up}/{len(sub)} amp+gain; median CN {med:.1f})")
        neu = tum[(tum.content == content) & (tum.tumour_copy_number == 2)]
        cells.append(f"{int((neu.call == 'amplification').sum())}/{len(neu)} "
                     f"(gain {int((neu.call == 'gain').sum())}/{len(neu)})")
        lines.append(f"| {content} | " + " | ".join(cells) + " |")
    nn = got[got.sample_type == "normal"]
    lines.append(f"\nNormals (leave-one-out vs the other normals): {int((nn.call != 'neutral').sum())}/{len(nn)} "
                 "gene calls not neutral.")
    lines.append(f"\nSimulation {t_sim:.0f} s; copy number (coverage + reference + calls, {len(samples)} samples) "
                 f"{t_cn:.0f} s.")
    print("\n".join(lines))
    (a.out / "table.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
