"""Snakemake adapter of the summarize step (logic: samebits.paper.summary.summarize). No TensorFlow."""

from samebits.core.logs import finish, step_logging
from samebits.paper.summary import summarize

sm = snakemake  # noqa: F821 (snakemake is injected)
ran = __real_file__  # noqa: F821 (Snakemake's preamble, then this file: records hash the file's part)
with step_logging(sm.log[0]):
    o = sm.output
    summarize(sm.input.records, o.csv, o.markdown, o.latex, o.record, script=ran)
finish()  # outputs are durable (fsynced); skip the interpreter's teardown
