# Alignment of samples given as FASTQ pairs: bwa mem (pybwa, in-process) against the region
# contigs (or the configured full FASTA), exact lift to GRCh38 chromosome coordinates,
# fixmate, sort, duplicate marking, index.

BWA_PREFIX = f"{REF_DIR}/bwa/reference"


rule bwa_index:
    input:
        fasta=RUN.config["reference"]["fasta"],
    output:
        multiext(BWA_PREFIX, ".amb", ".ann", ".bwt", ".pac", ".sa", ".dict"),
    params:
        prefix=lambda wildcards, output: output[0][: -len(".amb")],
    log:
        "logs/reference/bwa_index.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(2000, 6000),
        runtime=runtime_from_input(10, 60),
    conda:
        ENV
    shell:
        "unlock-atlas align-index --fasta {input.fasta:q} --prefix {params.prefix:q} > {log:q} 2>&1"


rule align:
    input:
        unpack(fastq_of),
        index=multiext(BWA_PREFIX, ".amb", ".ann", ".bwt", ".pac", ".sa", ".dict"),
    output:
        bam="results/align/{patient}/{sample}.bam",
        bai="results/align/{patient}/{sample}.bam.bai",
    params:
        prefix=lambda wildcards, input: input.index[0][: -len(".amb")],
    log:
        "logs/align/{patient}/{sample}.log",
    threads: 2
    resources:
        mem_mb=mem_from_input(3000, 1000),
        runtime=runtime_from_input(20, 120),
    conda:
        ENV
    shell:
        "unlock-atlas align --fastq1 {input.r1:q} --fastq2 {input.r2:q} --index {params.prefix:q} "
        "--sample-id {wildcards.sample:q} -o {output.bam:q} --threads {threads} > {log:q} 2>&1"
