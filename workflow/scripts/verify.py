"""Snakemake adapter of the verify step (logic: samebits.provenance.verify.verify_step). No TensorFlow.
What an adapter does and why: samebits.core.logs."""

from samebits.core.logs import finish, step_logging
from samebits.provenance.verify import verify_step

sm = snakemake  # noqa: F821
with step_logging(sm.log[0]):
    o = sm.output
    verify_step(sm.input.records, o.verdict, o.json, o.markdown, o.html, **sm.params.step)
finish()
