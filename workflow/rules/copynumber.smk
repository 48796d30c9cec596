# Copy number from panel depth (issue 5): per-sample target coverage -> panel of normals from all
# normals of the run -> per-sample gene-level log2 ratio / copy number / call (atlas part + plot);
# split-read / discordant-pair fusion evidence per sample. Plasma copy number is adjusted for the
# patient's ctDNA tumour fraction, estimated first from the variants part (issue 18).

import shlex

import pandas as pd

# normals of the run (patient, sample): all of them form the pooled reference (panel of normals)
CN_NORMALS = [(r.patient_id, r.sample_id) for r in SAMPLE_ROW.values() if r.sample_type == "normal"]


# One job per patient: coverage of each sample and the normal's junction evidence (seconds each).
rule copynumber_reads:
    input:
        bams=patient_bams,
        bais=patient_bais,
        panel=f"{REF_DIR}/panel.bed",
        ref=f"{REF_DIR}/reference.json",
        genes=f"{REF_DIR}/genes.tsv",
    output:
        directory("results/copynumber/{patient}/reads"),
    params:
        commands=copynumber_read_commands,
    log:
        "logs/copynumber/{patient}/reads.log",
    threads: 1
    resources:
        mem_mb=mem_from_largest_input(1000, 200),
        runtime=runtime_from_input(5, 40, per_sample=True),
    conda:
        ENV
    shell:
        "mkdir -p {output:q} && ({params.commands}) > {log:q} 2>&1"


# the patients with a normal (all of them: inputs/sheets.py), whose normals form the pooled references
CN_NORMAL_PATIENTS = list(dict.fromkeys(p for p, _ in CN_NORMALS))


rule copynumber_reference:
    input:
        [cn_reads(p) for p in CN_NORMAL_PATIENTS],
    output:
        "results/copynumber/reference.tsv",
    params:
        covs=lambda wildcards: " ".join(shlex.quote(targetcov(p, s)) for p, s in CN_NORMALS),
        ids=lambda wildcards: ",".join(s for _, s in CN_NORMALS),
    log:
        "logs/copynumber/reference.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(1000, 2000),
        runtime=runtime_from_input(5, 10),
    conda:
        ENV
    shell:
        "unlock-atlas copynumber reference {params.covs} --ids {params.ids:q} -o {output:q} > {log:q} 2>&1"


rule copynumber_tumour_fraction:
    # the ONE tumour-fraction definition (unlock_atlas.ctdna_fraction), run per patient before plasma
    # copy-number calling; the classify stage recomputes the same function for its ctdna table
    input:
        config=EFFECTIVE_CONFIG,
        variants="results/tables/variants/{patient}.parquet",
    output:
        "results/copynumber/{patient}/tumour_fraction.tsv",
    log:
        "logs/copynumber/{patient}/tumour_fraction.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    shell:
        "unlock-atlas copynumber tumour-fraction --config {input.config:q} --directory . "
        "--patient {wildcards.patient:q} --variants {input.variants:q} -o {output:q} > {log:q} 2>&1"


rule copynumber_call:
    input:
        reads=lambda wildcards: cn_reads(SAMPLE_ROW[wildcards.sample].patient_id),
        ref="results/copynumber/reference.tsv",
        # plasma only: the patient's tumour fractions (tissue uses its purity, normals none)
        tf=lambda wildcards: (
            [f"results/copynumber/{SAMPLE_ROW[wildcards.sample].patient_id}/tumour_fraction.tsv"]
            if SAMPLE_ROW[wildcards.sample].sample_type == "plasma"
            else []
        ),
    output:
        # every output of a rule must carry the same wildcards, and the atlas part is keyed by sample
        # only (stage contract), so the per-target ratios and the plot are too
        part="results/tables/copy_number/{sample}.parquet",
        targets="results/copynumber/samples/{sample}.cnr.tsv",
        plot="results/copynumber/samples/{sample}.log2.png",
    params:
        patient=lambda wildcards: SAMPLE_ROW[wildcards.sample].patient_id,
        cov=lambda wildcards: targetcov(SAMPLE_ROW[wildcards.sample].patient_id, wildcards.sample),
        stype=lambda wildcards: SAMPLE_ROW[wildcards.sample].sample_type,
        # tumour content: tissue purity from samples.tsv; plasma the estimated tumour fraction (with its
        # interval; below 3 % it is not used: docs/copynumber.md)
        tc=lambda wildcards, input: (
            f"--purity {float(SAMPLE_ROW[wildcards.sample].purity)}"
            if SAMPLE_ROW[wildcards.sample].sample_type == "tissue"
            and not pd.isna(SAMPLE_ROW[wildcards.sample].purity)
            else f"--tumour-fraction-table {shlex.quote(input.tf[0])}"
            if SAMPLE_ROW[wildcards.sample].sample_type == "plasma"
            else ""
        ),
    log:
        "logs/copynumber/samples/{sample}.call.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(1500, 2000),
        runtime=runtime_from_input(5, 10),
    conda:
        ENV
    shell:
        "unlock-atlas copynumber call {params.cov:q} --reference {input.ref:q} --sample-id {wildcards.sample:q} "
        "--patient-id {params.patient:q} --sample-type {params.stype:q} {params.tc} "
        "-o {output.part:q} --targets {output.targets:q} --plot {output.plot:q} > {log:q} 2>&1"


# Fusions: each normal's junction evidence (what its patient's tumour samples are checked against),
# the cohort's normals pooled (recurrent artefacts), then each tumour sample's orientation-checked
# fusions with its patient's normal and the pooled normals subtracted (docs/copynumber.md).
rule copynumber_fusion_normals:
    input:
        [cn_reads(p) for p in CN_NORMAL_PATIENTS],
    output:
        "results/copynumber/fusion_normals.tsv",
    params:
        evidence=lambda wildcards: " ".join(shlex.quote(fusion_evidence(p, s)) for p, s in CN_NORMALS),
        ids=lambda wildcards: ",".join(s for _, s in CN_NORMALS),
    log:
        "logs/copynumber/fusion_normals.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(1000, 2000),
        runtime=runtime_from_input(5, 10),
    conda:
        ENV
    shell:
        "unlock-atlas copynumber fusion-normals {params.evidence} --ids {params.ids:q} -o {output:q} > {log:q} 2>&1"


# patient -> its tumour (tissue, plasma) sample IDs, sheet order: each is checked for fusions
CN_TUMOURS = {p: [r.sample_id for r in patient_samples(p) if r.sample_type != "normal"] for p in patients()}


# One job per patient: each tumour sample's fusions, its normal's evidence and the pooled normals
# subtracted (seconds per sample).
rule copynumber_fusions:
    input:
        bams=lambda wildcards: [bam_path(s) for s in CN_TUMOURS[wildcards.patient]],
        bais=lambda wildcards: [bai_path(s) for s in CN_TUMOURS[wildcards.patient]],
        genes=f"{REF_DIR}/genes.tsv",
        normal_reads=lambda wildcards: cn_reads(wildcards.patient),
        pooled="results/copynumber/fusion_normals.tsv",
    output:
        directory("results/copynumber/{patient}/fusions"),
    params:
        commands=copynumber_fusion_commands,
    log:
        "logs/copynumber/{patient}/fusions.log",
    threads: 1
    resources:
        mem_mb=mem_from_largest_input(1000, 200),
        runtime=lambda wildcards, input: int(5 * len(input.bams) + 20 * input_mb(input) / 1024),
    conda:
        ENV
    shell:
        "mkdir -p {output:q} && ({params.commands}) > {log:q} 2>&1"


TABLE_PARTS["copy_number"] = [f"results/tables/copy_number/{s}.parquet" for _, s in sample_rows()]

# fusion calls per patient with tumour samples (read by the classification stage; a target of `all`)
FUSION_CALLS = [fusions_dir(p) for p, tumours in CN_TUMOURS.items() if tumours]
