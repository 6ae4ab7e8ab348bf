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
    priority: CHAIN_PRIORITY["evaluate"]
    conda:
        "../envs/samebits.yaml"
    threads: PLAN.threads
    params:
        step=PLAN.evaluate_params,
    script:
        "../scripts/evaluate.py"
