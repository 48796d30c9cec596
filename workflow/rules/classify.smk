# Resistance classification (issue 6): per patient, from the variants part, the copy-number parts
# and fusion tables of its samples (BAMs only to phase compound mutations) -> three atlas parts:
# results/tables/{ctdna,alterations,mechanisms}/<patient>.parquet. Needs calling.smk and
# copynumber.smk and singlecell.smk included before it (their outputs are its inputs).


import shlex

# patient -> its tissue and plasma sample IDs (fusion tables and BAMs are per tumour sample)
CLASSIFY_TUMOUR = {
    p: [r.sample_id for r in patient_samples(p) if r.sample_type in ("tissue", "plasma")] for p in patients()
}


rule classify:
    input:
        config=EFFECTIVE_CONFIG,
        # treatment lines (optional treatments.tsv): the line drugs, progressions and baselines classification uses
        treatments=[RUN.config["treatments"]] if RUN.config.get("treatments") else [],
        variants="results/tables/variants/{patient}.parquet",
        # sample-identity verdicts: a patient with a swapped / mixed sample is not classified (identity.smk)
        identity=IDENTITY_PATIENTS,
        copy_number=lambda wildcards: [
            f"results/tables/copy_number/{r.sample_id}.parquet" for r in patient_samples(wildcards.patient)
        ],
        # the patient's fusion calls folder (copynumber.smk): <sample>.fusions.tsv per tumour sample
        fusions=lambda wildcards: [fusions_dir(wildcards.patient)] if CLASSIFY_TUMOUR[wildcards.patient] else [],
        bams=lambda wildcards: [bam_path(s) for s in CLASSIFY_TUMOUR[wildcards.patient]],
        bais=lambda wildcards: [bai_path(s) for s in CLASSIFY_TUMOUR[wildcards.patient]],
        # single-cell programme scores of the patient's biopsies (non-genetic candidates); needs singlecell.smk
        sc_programs=lambda wildcards: [
            f"results/tables/sc_programs/{s}.parquet" for s in SC_BY_PATIENT.get(wildcards.patient, [])
        ],
    output:
        alterations="results/tables/alterations/{patient}.parquet",
        mechanisms="results/tables/mechanisms/{patient}.parquet",
        ctdna="results/tables/ctdna/{patient}.parquet",
    params:
        # --fusions S=TSV ... --bams S=BAM ... (quoted)
        samples=lambda wildcards, input: " ".join(
            shlex.quote(w)
            for w in ["--fusions"]
            + [f"{s}={fusions_dir(wildcards.patient)}/{s}.fusions.tsv" for s in CLASSIFY_TUMOUR[wildcards.patient]]
            + ["--bams"]
            + [f"{s}={b}" for s, b in zip(CLASSIFY_TUMOUR[wildcards.patient], input.bams)]
        ),
    log:
        "logs/classify/{patient}.log",
    threads: 1
    resources:
        # reads parquet parts (kB-MB) and, to phase, only the reads over two positions of each BAM
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    shell:
        "unlock-atlas classify --config {input.config:q} --directory . --patient {wildcards.patient:q} "
        "--variants {input.variants:q} --copy-number {input.copy_number:q} {params.samples} "
        "--sc-programs {input.sc_programs:q} --identity {input.identity:q} "
        "--alterations {output.alterations:q} --mechanisms {output.mechanisms:q} --ctdna {output.ctdna:q} "
        "> {log:q} 2>&1"


TABLE_PARTS["alterations"] = [f"results/tables/alterations/{p}.parquet" for p in patients()]
TABLE_PARTS["mechanisms"] = [f"results/tables/mechanisms/{p}.parquet" for p in patients()]
TABLE_PARTS["ctdna"] = [f"results/tables/ctdna/{p}.parquet" for p in patients()]
