"""Snakemake adapter of the verify step (logic: samebits.verify.verify_step). No TensorFlow."""

from samebits.logs import console, finish, step_logging
from samebits.verify import verify_step

sm = snakemake  # noqa: F821 (snakemake is injected)
with step_logging(sm.log[0]):
    verify_step(sm.input.records, sm.output.marker, out_html=sm.output.status, console=console(), **sm.params.step)
finish()  # outputs are durable (fsynced); skip the interpreter's teardown
