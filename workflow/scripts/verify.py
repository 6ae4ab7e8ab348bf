"""Snakemake adapter of the verify step (logic: samebits.provenance.verify.verify_step). No TensorFlow."""

from samebits.core.logs import finish, step_logging
from samebits.provenance.verify import verify_step

sm = snakemake  # noqa: F821 (snakemake is injected)
with step_logging(sm.log[0]):
    o = sm.output
    verify_step(sm.input.records, o.verdict, o.json, o.markdown, o.html, **sm.params.step)
finish()  # outputs are durable (fsynced); skip the interpreter's teardown
