rule figures:
    input:
        histories=PLAN.experiment_histories,
        metrics=PLAN.experiment_metrics,
        predictions=PLAN.experiment_predictions,
    output:
        curves_png=report(
            layout.figures.curves_png,
            caption="../report/learning_curves.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "learning curves"},
        ),
        curves_svg=layout.figures.curves_svg,
        test_png=report(
            layout.figures.test_png,
            caption="../report/test.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "test set"},
        ),
        test_svg=layout.figures.test_svg,
        record=layout.figures.record,
    log:
        layout.figures.log,
    conda:
        "../envs/samebits.yaml"
    threads: 1
    params:
        step=PLAN.figures_params,
    script:
        "../scripts/figures.py"


rule summarize:
    input:
        records=PLAN.evaluate_records,
    output:
        csv=report(
            layout.summarize.csv,
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "metrics over seeds"},
        ),
        markdown=layout.summarize.markdown,
        latex=layout.summarize.latex,
        record=layout.summarize.record,
    log:
        layout.summarize.log,
    conda:
        "../envs/samebits.yaml"
    threads: 1
    script:
        "../scripts/summarize.py"
