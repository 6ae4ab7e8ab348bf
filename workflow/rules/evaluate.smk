rule evaluate:
    input:
        unpack(PLAN.evaluate_inputs),
    output:
        metrics=layout.evaluate.metrics,
        predictions=layout.evaluate.predictions,
        record=layout.evaluate.record,
    log:
        layout.evaluate.log,
    benchmark:
        layout.evaluate.benchmark
    # finish chains before starting new ones: with --cores N the last jobs are
    # not one chain's train and evaluate, one after the other on one core
    priority: 3
    conda:
        "../envs/samebits.yaml"
    threads: PLAN.threads
    params:
        step=PLAN.evaluate_params,
    script:
        "../scripts/evaluate.py"
