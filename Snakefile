# samebits: train TensorFlow/Keras models so that a rerun gives the same bits, and prove it.
# Wiring only: the rules live in workflow/rules/, the logic in src/samebits/.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/init.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/verify.smk"


onstart:
    check_environment()


rule all:
    default_target: True
    input:
        VERIFIED,
