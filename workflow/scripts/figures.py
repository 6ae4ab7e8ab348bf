"""Snakemake adapter of the figures step (logic: samebits.paper.figures.figures). No TensorFlow.
What an adapter does and why: samebits.core.logs."""

from samebits.core.logs import finish, step_logging
from samebits.paper.figures import figures

sm, ran = snakemake, __real_file__  # noqa: F821
with step_logging(sm.log[0]):
    o = sm.output
    seeds = sm.params.step["seeds"]
    figures(
        dict(zip(seeds, sm.input.histories, strict=True)),
        dict(zip(seeds, sm.input.metrics, strict=True)),
        dict(zip(seeds, sm.input.predictions, strict=True)),
        o.curves_png,
        o.curves_svg,
        o.test_png,
        o.test_svg,
        o.record,
        experiment=sm.params.step["experiment"],
        script=ran,
    )
finish()
