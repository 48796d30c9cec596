# Copy number from panel depth (issue 5): per-sample target coverage -> panel of normals from all
# normals of the run -> per-sample gene-level log2 ratio / copy number / call (atlas part + plot);
# split-read / discordant-pair fusion evidence per sample. Plasma copy number is adjusted for the
# patient's ctDNA tumour fraction, estimated first from the variants part (issue 18).

import shlex

import pandas as pd

# normals of the run (patient, sample): all of them form the pooled reference (panel of normals)
CN_NORMALS = [(r.patient_id, r.sample_id) for r in SAMPLE_ROW.values() if r.sample_type == "normal"]


rule copynumber_coverage:
    input:
        bam=bam_of,
        bai=bai_of,
        panel=f"{REF_DIR}/panel.bed",
        ref=f"{REF_DIR}/reference.json",
    output:
        "results/copynumber/{patient}/{sample}.targetcov.tsv",
    params:
        fasta=lambda wildcards: f"{REF_DIR}/genome.fa.gz",
    log:
        "logs/copynumber/{patient}/{sample}.coverage.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(1000, 200),
        runtime=runtime_from_input(5, 20),
    conda:
        ENV
    shell:
        "unlock-atlas copynumber coverage {input.bam:q} --panel {input.panel:q} --fasta {params.fasta:q} "
        "-o {output:q} > {log:q} 2>&1"


rule copynumber_reference:
    input:
        [f"results/copynumber/{p}/{s}.targetcov.tsv" for p, s in CN_NORMALS],
    output:
        "results/copynumber/reference.tsv",
    params:
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
        "unlock-atlas copynumber reference {input:q} --ids {params.ids:q} -o {output:q} > {log:q} 2>&1"


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
        cov=lambda wildcards: f"results/copynumber/{SAMPLE_ROW[wildcards.sample].patient_id}/{wildcards.sample}.targetcov.tsv",
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
        "unlock-atlas copynumber call {input.cov:q} --reference {input.ref:q} --sample-id {wildcards.sample:q} "
        "--patient-id {params.patient:q} --sample-type {params.stype:q} {params.tc} "
        "-o {output.part:q} --targets {output.targets:q} --plot {output.plot:q} > {log:q} 2>&1"


# Fusions: each normal's junction evidence (what its patient's tumour samples are checked against),
# the cohort's normals pooled (recurrent artefacts), then each tumour sample's orientation-checked
# fusions with its patient's normal and the pooled normals subtracted (docs/copynumber.md).
rule copynumber_fusion_evidence:
    input:
        bam=bam_of,
        bai=bai_of,
        genes=f"{REF_DIR}/genes.tsv",
    output:
        "results/copynumber/{patient}/{sample}.fusion_evidence.tsv",
    log:
        "logs/copynumber/{patient}/{sample}.fusion_evidence.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(1000, 200),
        runtime=runtime_from_input(5, 20),
    conda:
        ENV
    shell:
        "unlock-atlas copynumber fusion-evidence {input.bam:q} --genes {input.genes:q} -o {output:q} > {log:q} 2>&1"


rule copynumber_fusion_normals:
    input:
        [f"results/copynumber/{p}/{s}.fusion_evidence.tsv" for p, s in CN_NORMALS],
    output:
        "results/copynumber/fusion_normals.tsv",
    params:
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
        "unlock-atlas copynumber fusion-normals {input:q} --ids {params.ids:q} -o {output:q} > {log:q} 2>&1"


rule copynumber_fusions:
    input:
        bam=bam_of,
        bai=bai_of,
        genes=f"{REF_DIR}/genes.tsv",
        normal=fusion_normal_evidence,
        pooled="results/copynumber/fusion_normals.tsv",
    output:
        calls="results/copynumber/{patient}/{sample}.fusions.tsv",
        candidates="results/copynumber/{patient}/{sample}.fusion_candidates.tsv",
    log:
        "logs/copynumber/{patient}/{sample}.fusions.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(1000, 200),
        runtime=runtime_from_input(5, 20),
    conda:
        ENV
    shell:
        "unlock-atlas copynumber fusions {input.bam:q} --genes {input.genes:q} --normal {input.normal:q} "
        "--panel-normals {input.pooled:q} -o {output.calls:q} --candidates {output.candidates:q} > {log:q} 2>&1"


TABLE_PARTS["copy_number"] = [f"results/tables/copy_number/{s}.parquet" for _, s in sample_rows()]

# fusion evidence per sample (read by the classification stage; a target of `all` until then)
FUSION_CALLS = [f"results/copynumber/{p}/{s}.fusions.tsv" for p, s in sample_rows() if SAMPLE_ROW[s].sample_type != "normal"]
