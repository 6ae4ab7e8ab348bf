"""Snakemake adapter of the train step (logic: samebits.ml.steps.train)."""

from samebits.core.logs import finish, step_logging
from samebits.ml.steps import train

sm = snakemake  # noqa: F821 (snakemake is injected)
with step_logging(sm.log[0]):
    i, o = sm.input, sm.output
    train(i.split, i.init, i.model, o.weights, o.history, o.keras, o.record, script=__file__, **sm.params.step)
finish()  # outputs are durable (fsynced); skip the interpreter's teardown
