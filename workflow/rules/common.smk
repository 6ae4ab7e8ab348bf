# Wiring shared by the rules (no rules here: `snakemake --lint`). Everything a rule needs
# comes from one plan (samebits.plan): the checked configuration with its defaults, the
# inputs and params of each rule, and what happens when a run starts and ends.
from samebits.core import layout
from samebits.core.version import check_library
from samebits.plan import Plan
from snakemake.logging import logger

# The steps import the installed samebits library: it must be this workflow's release (the
# workflow's own copy of the version file, read from the module's tag in a paper's repository).
check_library(workflow.source_path(f"../../{layout.VERSION_FILE}"))
PLAN = Plan.for_workflow(config, workflow.configfiles)
for message in PLAN.start(main_process=workflow.is_main_process):
    logger.warning(f"samebits: {message}")


wildcard_constraints:
    seed=r"\d+",
    dataset=layout.NAME,
    experiment=layout.NAME,
