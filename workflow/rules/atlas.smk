# The atlas: Parquet tables + manifest, replaced all-or-nothing. Reruns when the validated
# config or the sheets change (params), or when any per-sample input changes.


rule atlas:
    input:
        config=EFFECTIVE_CONFIG,
        qc=[f"results/qc/{p}/{s}.json" for p, s in sample_rows()],
        parts=lambda wildcards: sorted(p for paths in TABLE_PARTS.values() for p in paths),
    output:
        directory(ATLAS_DIR),
    params:
        config_hash=RUN.config_hash(),
    log:
        "logs/atlas/atlas.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        ENV
    shell:
        "unlock-atlas atlas --config {input.config:q} --directory . --qc-dir results/qc "
        "--parts results/tables --out {output:q} --private results/private > {log:q} 2>&1"
