# samebits from its own clone: `snakemake --cores 1` here. The workflow is workflow/Snakefile,
# used here as a paper's repository uses it (README "Use it in your paper's repository"): as a
# module, with this repository's config/, data/ and results/.
from samebits.config.yamlfile import read_yaml
from samebits.core.layout import CONFIG_FILE

# `--configfile X` runs X alone: Snakemake would merge X into this file, and an example's run
# would run, and write over, the default's experiments too. Read first by samebits, whose
# error names the line and column of a YAML mistake (Snakemake's names neither).
if not workflow.overwrite_configfiles:
    read_yaml(CONFIG_FILE)

    configfile: CONFIG_FILE


module samebits:
    snakefile:
        "workflow/Snakefile"
    config:
        config


use rule * from samebits


# Snakemake runs a module's handlers only when the using workflow calls them.
onstart:
    samebits.onstart()


onsuccess:
    samebits.onsuccess()
