# Variant calling: per patient, all samples (tissue, plasma, normal) genotyped jointly, then
# annotated on the MANE transcripts of the configured GTF.
#   results/calling/<patient>/<patient>.vcf.gz (+.tbi)       joint calls (FORMAT AD/DP/AF/AF_LO/AF_HI/DS)
#   results/annotation/<patient>/<patient>.vcf.gz (+.tbi)    the same records with INFO/CSQ
#   results/tables/variants/<patient>.parquet                atlas part, annotation columns filled
#   results/calling/pon.{sites,alleles}.parquet              panel of normals (background error sums)

# PON, CALLING_PARAMS, PON_PREFIX and the pon_* input functions: common.smk

if PON.bams:

    rule build_pon:
        input:
            bams=pon_bams,
            bais=pon_bais,
            panel=f"{REF_DIR}/panel.bed",
            reference=f"{REF_DIR}/reference.json",
        output:
            sites="results/calling/pon.sites.parquet",
            alleles="results/calling/pon.alleles.parquet",
        params:
            bams=pon_bam_args,
            settings=CALLING_PARAMS,
        log:
            "logs/calling/pon.log",
        threads: 1
        resources:
            mem_mb=4000,
            runtime=runtime_from_input(10, 20),
        conda:
            ENV
        shell:
            "unlock-atlas pon --bams {params.bams} --panel {input.panel:q} --fasta {input.reference:q} "
            "--params {params.settings:q} -o results/calling/pon > {log:q} 2>&1"


# A patient with `calls` files in samples.tsv is imported instead of called (`unlock-atlas import`,
# docs/import.md): the same two outputs, so annotation and everything after run unchanged.
rule call_variants:
    input:
        bams=calling_bams,
        bais=calling_bais,
        calls=patient_calls,
        panel=f"{REF_DIR}/panel.bed",
        reference=f"{REF_DIR}/reference.json",
        pon=calling_pon,
    output:
        vcf="results/calling/{patient}/{patient}.vcf.gz",
        tbi="results/calling/{patient}/{patient}.vcf.gz.tbi",
        table=temp("results/calling/{patient}/{patient}.variants.parquet"),
    params:
        command=call_command,
    log:
        "logs/calling/{patient}.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(2000, 200),
        runtime=runtime_from_input(10, 20),
    conda:
        ENV
    shell:
        "unlock-atlas {params.command} -o {output.vcf:q} --table {output.table:q} > {log:q} 2>&1"


rule annotate_variants:
    input:
        vcf="results/calling/{patient}/{patient}.vcf.gz",
        table="results/calling/{patient}/{patient}.variants.parquet",
        fasta=RUN.config["reference"]["fasta"],
        gtf=RUN.config["reference"]["gtf"],
    output:
        vcf="results/annotation/{patient}/{patient}.vcf.gz",
        tbi="results/annotation/{patient}/{patient}.vcf.gz.tbi",
        table="results/tables/variants/{patient}.parquet",
    log:
        "logs/annotation/{patient}.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(1500, 500),
        runtime=runtime_from_input(5, 10),
    conda:
        ENV
    shell:
        "unlock-atlas annotate {input.vcf:q} -o {output.vcf:q} --fasta {input.fasta:q} --gtf {input.gtf:q} "
        "--variants-table {input.table:q} --variants-out {output.table:q} > {log:q} 2>&1"


TABLE_PARTS["variants"] = [f"results/tables/variants/{p}.parquet" for p in patients()]
