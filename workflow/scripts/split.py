"""Snakemake adapter of the split step (logic: samebits.ml.steps.split). No TensorFlow.
What an adapter does and why: samebits.core.logs."""

from samebits.core.logs import finish, step_logging
from samebits.ml.steps import split

sm, ran = snakemake, __real_file__  # noqa: F821
with step_logging(sm.log[0]):
    split(sm.output.split, sm.output.record, script=ran, **sm.params.step)
finish()
