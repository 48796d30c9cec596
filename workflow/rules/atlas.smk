# The atlas: Parquet tables + manifest, replaced all-or-nothing. Reruns when the validated
# config or the sheets change (params), or when any per-sample input changes.


rule atlas:
    input:
        config=EFFECTIVE_CONFIG,
        treatments=[RUN.config["treatments"]] if RUN.config.get("treatments") else [],   # the treatments table
        qc=QC_DIRS,  # one folder per patient (qc.smk)
        parts=lambda wildcards: sorted(p for paths in TABLE_PARTS.values() for p in paths),
    output:
        directory(ATLAS_DIR),
    params:
        config_hash=RUN.config_hash(),
    log:
        "logs/atlas/atlas.log",
    threads: 1
    resources:
        # measured: 173 MiB / 4.8 s for 1,000 patients x 6 samples (benchmarks/RESULTS.md, Scale)
        mem_mb=1000 + len(SAMPLE_ROW) // 4,
        runtime=10 + len(SAMPLE_ROW) // 600,
    conda:
        ENV
    shell:
        "unlock-atlas atlas --config {input.config:q} --directory . --qc-dir results/qc "
        "--parts results/tables --out {output:q} --private results/private > {log:q} 2>&1"
