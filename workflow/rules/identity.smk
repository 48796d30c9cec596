# Sample identity (issue 10, docs/identity.md): germline SNP fingerprints of every sample at the
# germline SNVs called in the run's normals, pairwise concordance / same-individual LOD, and
# verdicts (swapped / mixed samples). Needs calling.smk included before it (the variants parts
# are its site source); the classify rule reads IDENTITY_PATIENTS to withhold classification of
# a patient whose identity check failed, the atlas fills samples.identity_ok from IDENTITY_PART.
#   results/identity/sites.tsv                   cohort site list
#   results/identity/<patient>/<sample>.fp.tsv   fingerprint per sample
#   results/identity/{samples,patients,concordance}.tsv   verdicts (raw IDs; not shareable)
#   results/tables/identity/samples.parquet      atlas hook (raw IDs)

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
    input:
        bam=bam_of,
        bai=bai_of,
        sites=IDENTITY_SITES,
    output:
        "results/identity/{patient}/{sample}.fp.tsv",
    log:
        "logs/identity/{patient}/{sample}.log",
    threads: 1
    resources:
        # pileup at the site list only (tens to thousands of positions)
        mem_mb=1000,
        runtime=runtime_from_input(5, 10),
    conda:
        ENV
    shell:
        "unlock-atlas identity fingerprint {input.bam:q} --sites {input.sites:q} -o {output:q} > {log:q} 2>&1"


rule identity_check:
    input:
        config=EFFECTIVE_CONFIG,
        fingerprints=[f"results/identity/{p}/{s}.fp.tsv" for p, s in sample_rows()],
    output:
        samples="results/identity/samples.tsv",
        patients=IDENTITY_PATIENTS,
        concordance="results/identity/concordance.tsv",
        part=IDENTITY_PART,
    log:
        "logs/identity/check.log",
    threads: 1
    resources:
        # all pairs as matrix products: samples x samples x 9 doubles (6,000 samples ~ 2.6 GB)
        mem_mb=lambda wildcards, input: 1000 + int(len(input.fingerprints) ** 2 * 72 / 1e6),
        runtime=15,
    conda:
        ENV
    shell:
        "unlock-atlas identity check --config {input.config:q} --directory . "
        "--fingerprints {input.fingerprints:q} --out-dir results/identity --part {output.part:q} > {log:q} 2>&1"


# not an atlas table: registered so that the atlas rule waits for the verdicts it reads
TABLE_PARTS["identity"] = [IDENTITY_PART]
