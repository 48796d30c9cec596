# Per-sample QC from the BAM: target depth, on-target fraction, duplicate rate, insert size.


rule qc:
    input:
        bam=bam_of,
        bai=bai_of,
        panel=f"{REF_DIR}/panel.bed",
    output:
        "results/qc/{patient}/{sample}.json",
    log:
        "logs/qc/{patient}/{sample}.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(1000, 100),
        runtime=runtime_from_input(5, 30),
    conda:
        ENV
    shell:
        "unlock-atlas qc {input.bam:q} --panel {input.panel:q} --sample-id {wildcards.sample:q} "
        "-o {output:q} > {log:q} 2>&1"
