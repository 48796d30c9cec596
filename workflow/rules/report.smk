# The cohort report for programme leads (docs/report.md), built from the (pseudonymised) atlas ONLY:
# results/report/cohort_report.html (self-contained), patients/<pseudonym>.html, cohort_summary.pdf.
# Include after atlas.smk; add REPORT_DIR to `rule all` to build it by default.
#
# Snakemake's own provenance report holds paths and raw IDs, so it goes to results/private/ and is
# NOT built by a rule (it needs the finished workflow's metadata); run it after the workflow:
#   snakemake -s <repo>/Snakefile --directory RUN --configfile RUN/config/config.yaml \
#       --report RUN/results/private/snakemake_report.html

REPORT_DIR = "results/report"


rule report:
    input:
        ATLAS_DIR,
    output:
        directory(REPORT_DIR),
    log:
        "logs/report/report.log",
    threads: 1
    resources:
        # measured (benchmarks/RESULTS.md, "Report"): see the peak RSS there for 1,000 patients
        mem_mb=lambda wildcards, input: 1500
        + int(300 * sum(p.stat().st_size for p in Path(input[0]).glob("variants.parquet")) / 1e6),
        runtime=15,
    conda:
        ENV
    shell:
        "unlock-atlas report {input:q} -o {output:q} > {log:q} 2>&1"
