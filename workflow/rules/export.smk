# Exports analysts expect, built from the (pseudonymised) atlas only: a MAF of the called somatic
# variants and a cBioPortal study folder (docs/export.md). Include after atlas.smk; add
# EXPORT_OUTPUTS to `rule all` to build them by default.

EXPORT_STUDY = "cohort"
EXPORT_MAF = f"results/export/{EXPORT_STUDY}.maf"
EXPORT_CBIOPORTAL = "results/export/cbioportal"
EXPORT_OUTPUTS = [EXPORT_MAF, EXPORT_CBIOPORTAL]
# Memory, measured: 964 MiB peak for a 1,000,000-row variants table (5.4 MB Parquet), 360 MiB for
# a small atlas (benchmarks/RESULTS.md, "Exports") -> 1 GB + 150 MB per MB of variants Parquet.


rule export_maf:
    input:
        ATLAS_DIR,
    output:
        EXPORT_MAF,
    log:
        "logs/export/maf.log",
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: 1000
        + int(150 * sum(p.stat().st_size for p in Path(input[0]).glob("variants.parquet")) / 1e6),
        runtime=15,
    conda:
        ENV
    shell:
        "unlock-atlas export maf {input:q} -o {output:q} > {log:q} 2>&1"


rule export_cbioportal:
    input:
        ATLAS_DIR,
    output:
        directory(EXPORT_CBIOPORTAL),
    params:
        study=EXPORT_STUDY,
    log:
        "logs/export/cbioportal.log",
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: 1000
        + int(150 * sum(p.stat().st_size for p in Path(input[0]).glob("variants.parquet")) / 1e6),
        runtime=15,
    conda:
        ENV
    shell:
        "unlock-atlas export cbioportal {input:q} -o {output:q} --study-id {params.study:q} > {log:q} 2>&1"
