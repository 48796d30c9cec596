# QC from each BAM: target depth, on-target fraction, duplicate rate, insert size. One job per
# patient (its samples one after another: seconds each) writes results/qc/<patient>/<sample>.json.


rule qc:
    input:
        bams=patient_bams,
        bais=patient_bais,
        panel=f"{REF_DIR}/panel.bed",
    output:
        directory("results/qc/{patient}"),
    params:
        commands=lambda wildcards, input, output: per_sample_commands(
            wildcards.patient,
            input.bams,
            lambda s, bam: ["unlock-atlas", "qc", bam, "--panel", input.panel, "--sample-id", s, "-o", f"{output[0]}/{s}.json"],
        ),
    log:
        "logs/qc/{patient}.log",
    threads: 1
    resources:
        mem_mb=mem_from_largest_input(1000, 100),
        runtime=runtime_from_input(5, 30, per_sample=True),
    conda:
        ENV
    shell:
        "mkdir -p {output:q} && ({params.commands}) > {log:q} 2>&1"


# per-patient QC folders (results/qc/<patient>/<sample>.json): what the atlas reads
QC_DIRS = [f"results/qc/{p}" for p in patients()]
