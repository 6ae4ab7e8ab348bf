# samebits: train TensorFlow/Keras models so that a rerun gives the same bits, and prove it.
# Wiring only: the rules live in workflow/rules/, the logic in src/samebits/.
from snakemake.utils import min_version
from samebits.core.layout import CONFIG_FILE

min_version("9.0")


configfile: CONFIG_FILE


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/init.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/verify.smk"


onstart:
    for level, message in PLAN.environment_notes():
        getattr(logger, level)(message)


onsuccess:
    PLAN.finish()


rule all:
    default_target: True
    input:
        layout.verify.verdict,
