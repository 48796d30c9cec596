# UMI molecule grouping and consensus (docs/umi.md): only for samples whose type is in
# umi.sample_types when umi.mode is single or duplex; bam_path() (common.smk) then points every
# consumer (qc, calling, identity, copy number, classify) at the consensus BAM.
# The consensus BAM is kept, not temp(): like the aligned BAM it is read by every stage, also
# when a later run adds patients, and recomputing it costs a full pass over the raw reads.


rule umi_consensus:
    input:
        bam=umi_input_bam,
        bai=umi_input_bai,
    output:
        bam="results/umi/{patient}/{sample}.bam",
        bai="results/umi/{patient}/{sample}.bam.bai",
        metrics="results/umi/{patient}/{sample}.metrics.json",
    params:
        mode=UMI["mode"],
        umi=umi_params,
    log:
        "logs/umi/{patient}/{sample}.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(1500, 200),
        runtime=runtime_from_input(10, 120),
    conda:
        ENV
    shell:
        "unlock-atlas umi-consensus {input.bam:q} --mode {params.mode} --sample-id {wildcards.sample:q} "
        "--params {params.umi} -o {output.bam:q} --metrics {output.metrics:q} > {log:q} 2>&1"
