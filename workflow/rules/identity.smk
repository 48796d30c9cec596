# Sample identity (issue 10, docs/identity.md): germline SNP fingerprints of every sample at the
# germline SNVs called in the run's normals, pairwise concordance / same-individual LOD, and
# verdicts (swapped / mixed samples). Needs calling.smk included before it (the variants parts
# are its site source); the classify rule reads IDENTITY_PATIENTS to withhold classification of
# a patient whose identity check failed, the atlas fills samples.identity_ok from IDENTITY_PART.
#   results/identity/sites.tsv                   cohort site list
#   results/identity/<patient>/<sample>.fp.tsv   fingerprint per sample (one job per patient)
#   results/identity/{samples,patients,concordance}.tsv   verdicts (raw IDs; not shareable)
#   results/tables/identity/samples.parquet      atlas hook (raw IDs)

import shlex

IDENTITY_SITES = "results/identity/sites.tsv"
IDENTITY_PATIENTS = "results/identity/patients.tsv"
IDENTITY_PART = "results/tables/identity/samples.parquet"


rule identity_sites:
    input:
        config=EFFECTIVE_CONFIG,
        variants=[f"results/tables/variants/{p}.parquet" for p in patients()],
    output:
        IDENTITY_SITES,
    log:
        "logs/identity/sites.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(1000, 1000),
        runtime=runtime_from_input(5, 10),
    conda:
        ENV
    shell:
        "unlock-atlas identity sites --config {input.config:q} --directory . --variants {input.variants:q} "
        "-o {output:q} > {log:q} 2>&1"


rule identity_fingerprint:
    # one job per patient: each of its samples' fingerprints (a pileup at the site list: seconds)
    input:
        bams=patient_bams,
        bais=patient_bais,
        sites=IDENTITY_SITES,
    output:
        directory("results/identity/{patient}"),
    params:
        commands=lambda wildcards, input, output: per_sample_commands(
            wildcards.patient,
            input.bams,
            lambda s, bam: ["unlock-atlas", "identity", "fingerprint", bam, "--sites", input.sites, "-o", f"{output[0]}/{s}.fp.tsv"],
        ),
    log:
        "logs/identity/{patient}.log",
    threads: 1
    resources:
        # pileup at the site list only (tens to thousands of positions)
        mem_mb=1000,
        runtime=runtime_from_input(5, 10, per_sample=True),
    conda:
        ENV
    shell:
        "mkdir -p {output:q} && ({params.commands}) > {log:q} 2>&1"


# the per-patient folders match results/identity/{patient} too: the cohort files come from their rules
ruleorder: identity_sites > identity_fingerprint
ruleorder: identity_check > identity_fingerprint


rule identity_check:
    input:
        config=EFFECTIVE_CONFIG,
        fingerprints=[f"results/identity/{p}" for p in patients()],
    output:
        samples="results/identity/samples.tsv",
        patients=IDENTITY_PATIENTS,
        concordance="results/identity/concordance.tsv",
        part=IDENTITY_PART,
    params:
        # every sample's fingerprint, in sheet order, from the per-patient folders
        fingerprints=lambda wildcards: " ".join(shlex.quote(f"results/identity/{p}/{s}.fp.tsv") for p, s in sample_rows()),
    log:
        "logs/identity/check.log",
    threads: 1
    resources:
        # all pairs as matrix products: samples x samples x 9 doubles (6,000 samples ~ 2.6 GB)
        mem_mb=1000 + int(len(SAMPLE_ROW) ** 2 * 72 / 1e6),
        runtime=15,
    conda:
        ENV
    shell:
        "unlock-atlas identity check --config {input.config:q} --directory . "
        "--fingerprints {params.fingerprints} --out-dir results/identity --part {output.part:q} > {log:q} 2>&1"


# not an atlas table: registered so that the atlas rule waits for the verdicts it reads
TABLE_PARTS["identity"] = [IDENTITY_PART]
