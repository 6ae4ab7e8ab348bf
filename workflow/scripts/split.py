"""Snakemake adapter of the split step (logic: samebits.ml.steps.split). No TensorFlow."""

from samebits.core.logs import finish, step_logging
from samebits.ml.steps import split

sm = snakemake  # noqa: F821 (snakemake is injected)
ran = __real_file__  # noqa: F821 (Snakemake's preamble, then this file: records hash the file's part)
with step_logging(sm.log[0]):
    split(sm.output.split, sm.output.record, script=ran, **sm.params.step)
finish()  # outputs are durable (fsynced); skip the interpreter's teardown
