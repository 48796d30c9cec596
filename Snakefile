# Unlock atlas — Snakemake entry point (thin: every stage lives in workflow/rules/*.smk and
# every rule calls the package CLI `unlock-atlas`).
#
#   snakemake --cores 2                                   # run in this directory with config/config.yaml
#   snakemake -s /path/to/Snakefile --directory RUN --configfile RUN/config/config.yaml --cores 2
#
# Relative paths in the config resolve against the run directory (--directory); the
# workflow's own files (schemas, resources) resolve against this repository.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


# Rules run the `unlock-atlas` CLI found on PATH (common.smk puts this Python's bin first).
envvars:
    "PATH",


include: "workflow/rules/common.smk"
include: "workflow/rules/reference.smk"
include: "workflow/rules/align.smk"
include: "workflow/rules/umi.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/calling.smk"
include: "workflow/rules/identity.smk"
include: "workflow/rules/copynumber.smk"
include: "workflow/rules/singlecell.smk"
include: "workflow/rules/classify.smk"
include: "workflow/rules/atlas.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        ATLAS_DIR,
        FUSION_CALLS,
        SC_COHORT,
        EXPORT_OUTPUTS,
        REPORT_DIR,
