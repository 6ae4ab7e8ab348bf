"""Snakemake adapter of the summarize step (logic: samebits.paper.summary.summarize). No TensorFlow."""

from samebits.core.logs import finish, step_logging
from samebits.paper.summary import summarize

sm = snakemake  # noqa: F821 (snakemake is injected)
with step_logging(sm.log[0]):
    o = sm.output
    summarize(sm.input.records, o.csv, o.markdown, o.latex, o.record, script=__file__)
finish()  # outputs are durable (fsynced); skip the interpreter's teardown
