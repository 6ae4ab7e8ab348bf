"""Snakemake adapter of the evaluate step (logic: samebits.ml.steps.evaluate)."""

from samebits.core.logs import finish, step_logging
from samebits.ml.steps import evaluate

sm = snakemake  # noqa: F821 (snakemake is injected)
ran = __real_file__  # noqa: F821 (Snakemake's preamble, then this file: records hash the file's part)
with step_logging(sm.log[0]):
    i, o = sm.input, sm.output
    evaluate(i.split, i.weights, i.model, o.metrics, o.predictions, o.record, script=ran, **sm.params.step)
finish()  # outputs are durable (fsynced); skip the interpreter's teardown
