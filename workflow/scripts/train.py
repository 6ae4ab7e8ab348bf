"""Snakemake adapter of the train step (logic: samebits.ml.steps.train).
What an adapter does and why: samebits.core.logs."""

from samebits.core.logs import finish, step_logging
from samebits.ml.steps import train

sm, ran = snakemake, __real_file__  # noqa: F821
with step_logging(sm.log[0]):
    i, o = sm.input, sm.output
    train(i.split, i.init, i.model, o.weights, o.history, o.keras, o.record, script=ran, **sm.params.step)
finish()
