# Wiring shared by the rules (no rules here: `snakemake --lint`). Everything a rule needs
# comes from one plan (samebits.plan): the checked configuration with its defaults, and the
# inputs and params of each rule. What a run does when it starts and ends is its hooks'
# (samebits.lifecycle), which the Snakefile's handlers call.
from samebits.core import layout
from samebits.core.version import check_library
from samebits.lifecycle import RunHooks
from snakemake.logging import logger

# The steps import the installed samebits library: it must be this workflow's release (the
# workflow's own copy of the version file, read from the module's tag in a paper's repository).
check_library(workflow.source_path(f"../../{layout.VERSION_FILE}"))
HOOKS = RunHooks.for_workflow(
    config, workflow.configfiles, given=workflow.config_settings.config
)
PLAN = HOOKS.plan
for message in HOOKS.start(main_process=workflow.is_main_process):
    logger.warning(f"samebits: {message}")


# A chain's later steps go first: with --cores N, chains finish before new ones start, so the
# last jobs of a run are not one chain's train and evaluate, one after the other on one core.
CHAIN_PRIORITY = {"init": 1, "train": 2, "evaluate": 3}


wildcard_constraints:
    seed=r"\d+",
    dataset=layout.NAME,
    experiment=layout.NAME,
