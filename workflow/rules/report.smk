rule figures:
    input:
        histories=PLAN.experiment_histories,
        metrics=PLAN.experiment_metrics,
        predictions=PLAN.experiment_predictions,
    output:
        curves_png=report(
            PLAN.layout.figures.curves_png,
            caption="../report/learning_curves.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "learning curves"},
        ),
        curves_svg=PLAN.layout.figures.curves_svg,
        test_png=report(
            PLAN.layout.figures.test_png,
            caption="../report/test.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "test set"},
        ),
        test_svg=PLAN.layout.figures.test_svg,
        record=PLAN.layout.figures.record,
    log:
        PLAN.layout.figures.log,
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
            PLAN.layout.summarize.csv,
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "metrics over seeds"},
        ),
        markdown=PLAN.layout.summarize.markdown,
        latex=PLAN.layout.summarize.latex,
        record=PLAN.layout.summarize.record,
    log:
        PLAN.layout.summarize.log,
    conda:
        "../envs/samebits.yaml"
    threads: 1
    script:
        "../scripts/summarize.py"
