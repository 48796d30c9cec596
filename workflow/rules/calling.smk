# Variant calling: per patient, all samples (tissue, plasma, normal) genotyped jointly, then
# annotated on the MANE transcripts of the configured GTF.
#   results/calling/<patient>/<patient>.vcf.gz (+.tbi)       joint calls (FORMAT AD/DP/AF/AF_LO/AF_HI/DS)
#   results/annotation/<patient>/<patient>.vcf.gz (+.tbi)    the same records with INFO/CSQ
#   results/tables/variants/<patient>.parquet                atlas part, annotation columns filled


rule call_variants:
    input:
        bams=patient_bams,
        bais=patient_bais,
        panel=f"{REF_DIR}/panel.bed",
        reference=f"{REF_DIR}/reference.json",
    output:
        vcf="results/calling/{patient}/{patient}.vcf.gz",
        tbi="results/calling/{patient}/{patient}.vcf.gz.tbi",
        table=temp("results/calling/{patient}/{patient}.variants.parquet"),
    params:
        samples=calling_args,
    log:
        "logs/calling/{patient}.log",
    threads: 1
    resources:
        mem_mb=mem_from_input(2000, 200),
        runtime=runtime_from_input(10, 20),
    conda:
        ENV
    shell:
        "unlock-atlas call --patient {wildcards.patient:q} {params.samples} --panel {input.panel:q} "
        "--fasta {input.reference:q} -o {output.vcf:q} --table {output.table:q} > {log:q} 2>&1"


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
