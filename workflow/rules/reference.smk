# Reference preparation: sparse full-length GRCh38 (when the configured FASTA holds region
# contigs), panel BED in chromosome coordinates, transcript index.


rule prepare_reference:
    input:
        fasta=RUN.config["reference"]["fasta"],
        gtf=RUN.config["reference"]["gtf"],
        extra=RUN.config["reference"].get("panel_extra_bed") or [],
    output:
        bed=f"{REF_DIR}/panel.bed",
        transcripts=f"{REF_DIR}/transcripts.tsv",
        genes=f"{REF_DIR}/genes.tsv",
        manifest=f"{REF_DIR}/reference.json",
    params:
        panel=panel_args(),
        outdir=lambda wildcards, output: os.path.dirname(output.bed),
    log:
        "logs/reference/prepare_reference.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(1500, 1000),
        runtime=runtime_from_input(10, 10),
    conda:
        ENV
    shell:
        "unlock-atlas prepare-reference --fasta {input.fasta:q} --gtf {input.gtf:q} "
        "--outdir {params.outdir:q} {params.panel} > {log:q} 2>&1"
