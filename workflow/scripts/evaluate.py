"""Snakemake adapter of the evaluate step (logic: samebits.ml.steps.evaluate).
What an adapter does and why: samebits.core.logs."""

from samebits.core.logs import finish, step_logging
from samebits.ml.steps import evaluate

sm, ran = snakemake, __real_file__  # noqa: F821
with step_logging(sm.log[0]):
    i, o = sm.input, sm.output
    evaluate(i.split, i.weights, i.model, o.metrics, o.predictions, o.record, script=ran, **sm.params.step)
finish()
