# Variant calling: per patient, all samples (tissue, plasma, normal) genotyped jointly.
# Writes results/calling/<patient>/<patient>.vcf.gz (+.tbi) and the atlas part
# results/tables/variants/<patient>.parquet.


rule call_variants:
    input:
        bams=patient_bams,
        bais=patient_bais,
        panel=f"{REF_DIR}/panel.bed",
        reference=f"{REF_DIR}/reference.json",
    output:
        vcf="results/calling/{patient}/{patient}.vcf.gz",
        tbi="results/calling/{patient}/{patient}.vcf.gz.tbi",
        table="results/tables/variants/{patient}.parquet",
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


TABLE_PARTS["variants"] = [f"results/tables/variants/{p}.parquet" for p in patients()]
