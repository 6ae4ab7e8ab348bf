"""Snakemake adapter of the init step (logic: samebits.ml.steps.init).
What an adapter does and why: samebits.core.logs."""

from samebits.core.logs import finish, step_logging
from samebits.ml.steps import init

sm, ran = snakemake, __real_file__  # noqa: F821
with step_logging(sm.log[0]):
    init(sm.input.split, sm.output.init, sm.output.model, sm.output.record, script=ran, **sm.params.step)
finish()
