"""Snakemake adapter of the train step (logic: samebits.steps.train)."""

from samebits.logs import finish, step_logging
from samebits.steps import train

sm = snakemake  # noqa: F821 (snakemake is injected)
with step_logging(sm.log[0]):
    i, o = sm.input, sm.output
    train(i.split, i.init, i.model, o.weights, o.history, o.keras, o.record, script=__file__, **sm.params.step)
finish()  # outputs are durable (fsynced); skip the interpreter's teardown
