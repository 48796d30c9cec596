# Single-cell RNA (issue 7): per biopsy with an `scrna` file in samples.tsv -> annotated h5ad
# (QC, doublets, clustering, cell types, malignant calls, programme scores) -> atlas parts
# sc_composition and sc_programs. Needs: TABLE_PARTS, SAMPLE_ROW, RUN, ENV, *_from_input (common.smk).

from pandas import isna as pd_isna

# (patient, sample) of every sample with single-cell data
SC_SAMPLES = [(r.patient_id, r.sample_id) for r in SAMPLE_ROW.values() if isinstance(r.scrna, str) and r.scrna]
# patient -> tumour type (patients.tsv): sets the expected malignant lineage of `sc annotate`
SC_TUMOUR_TYPE = {str(p): ("" if pd_isna(t) else str(t)) for p, t in zip(RUN.patients["patient_id"], RUN.patients["tumour_type"])}
SC_BY_PATIENT = {}  # patient -> its samples with single-cell data (classify's input, without a scan per patient)
for _p, _s in SC_SAMPLES:
    SC_BY_PATIENT.setdefault(_p, []).append(_s)


rule sc_annotate:
    input:
        h5ad=lambda wildcards: SAMPLE_ROW[wildcards.sample].scrna,
        # gene positions for copy-number inference (malignant calls) when the h5ad's var has none;
        # a panel-only GTF places too few genes and the calls are then recorded as not_run
        gtf=RUN.config["reference"]["gtf"],
    output:
        "results/singlecell/{patient}/{sample}.h5ad",
    log:
        "logs/singlecell/{patient}/{sample}.annotate.log",
    params:
        seed=lambda wildcards: 0,
        tumour_type=lambda wildcards: SC_TUMOUR_TYPE.get(wildcards.patient, ""),
    threads: 2
    resources:
        # ~1 GB per 10,000 cells of a gzip h5ad of ~50 MB; the 100,000-cell benchmark peaks < 12 GB
        mem_mb=h5ad_scaled(2000, 60000),
        runtime=h5ad_scaled(10, 60),
    conda:
        ENV
    shell:
        "unlock-atlas sc annotate {input.h5ad:q} -o {output:q} --seed {params.seed} --gtf {input.gtf:q} "
        "--tumour-type {params.tumour_type:q} "
        "> {log:q} 2>&1"


rule sc_tables:
    input:
        lambda wildcards: f"results/singlecell/{SAMPLE_ROW[wildcards.sample].patient_id}/{wildcards.sample}.h5ad",
    output:
        composition="results/tables/sc_composition/{sample}.parquet",
        programs="results/tables/sc_programs/{sample}.parquet",
    log:
        "logs/singlecell/{sample}.tables.log",
    params:
        patient=lambda wildcards: SAMPLE_ROW[wildcards.sample].patient_id,
        timepoint=lambda wildcards: SAMPLE_ROW[wildcards.sample].timepoint,
    threads: 1
    resources:
        mem_mb=mem_from_input(1000, 20000),
        runtime=runtime_from_input(5, 10),
    conda:
        ENV
    shell:
        "unlock-atlas sc tables {input:q} --patient-id {params.patient:q} --sample-id {wildcards.sample:q} "
        "--timepoint {params.timepoint:q} --composition {output.composition:q} "
        "--programs {output.programs:q} > {log:q} 2>&1"


TABLE_PARTS["sc_composition"] = [f"results/tables/sc_composition/{s}.parquet" for _, s in SC_SAMPLES]
TABLE_PARTS["sc_programs"] = [f"results/tables/sc_programs/{s}.parquet" for _, s in SC_SAMPLES]


rule sc_cohort:
    input:
        [f"results/singlecell/{p}/{s}.h5ad" for p, s in SC_SAMPLES],
    output:
        "results/singlecell/cohort.h5ad",
    log:
        "logs/singlecell/cohort.log",
    params:
        ids=lambda wildcards: ",".join(s for _, s in SC_SAMPLES),
        timepoints=lambda wildcards: ",".join(str(SAMPLE_ROW[s].timepoint) for _, s in SC_SAMPLES),
        plots=lambda wildcards: "results/singlecell/plots",
    threads: 2
    resources:
        mem_mb=mem_from_input(2000, 30000),
        runtime=runtime_from_input(10, 30),
    conda:
        ENV
    shell:
        "unlock-atlas sc cohort {input:q} -o {output:q} --sample-ids {params.ids:q} "
        "--timepoints {params.timepoints:q} --plots {params.plots:q} > {log:q} 2>&1"


# the cohort object is a target of `all` only when the run has single-cell data
SC_COHORT = ["results/singlecell/cohort.h5ad"] if SC_SAMPLES else []
