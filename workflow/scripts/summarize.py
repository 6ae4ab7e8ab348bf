"""Snakemake adapter of the summarize step (logic: samebits.paper.summary.summarize). No TensorFlow.
What an adapter does and why: samebits.core.logs."""

from samebits.core.logs import finish, step_logging
from samebits.paper.summary import summarize

sm, ran = snakemake, __real_file__  # noqa: F821
with step_logging(sm.log[0]):
    o = sm.output
    summarize(sm.input.records, o.csv, o.markdown, o.latex, o.record, script=ran)
finish()
