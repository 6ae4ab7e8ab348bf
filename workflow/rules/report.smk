rule figures:
    input:
        histories=experiment_histories,
        metrics=experiment_metrics,
    output:
        curves_png=report(
            "results/figures/{experiment}/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "learning curves"},
        ),
        curves_svg="results/figures/{experiment}/learning_curves.svg",
        confusion_png=report(
            "results/figures/{experiment}/confusion.png",
            caption="../report/confusion.rst",
            category="Figures",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "confusion matrix"},
        ),
        confusion_svg="results/figures/{experiment}/confusion.svg",
        record="results/figures/{experiment}/figures.record.json",
    log:
        "logs/figures/{experiment}.log",
    conda:
        "../envs/samebits.yaml"
    threads: 1
    params:
        step=figures_params,
    script:
        "../scripts/figures.py"


rule summarize:
    input:
        records=evaluate_records,
    output:
        csv=report(
            "results/summary.csv",
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "metrics over seeds"},
        ),
        markdown="results/summary.md",
        latex="results/summary.tex",
        record="results/summary.record.json",
    log:
        "logs/summarize.log",
    conda:
        "../envs/samebits.yaml"
    threads: 1
    script:
        "../scripts/summarize.py"
