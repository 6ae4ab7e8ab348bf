rule evaluate:
    input:
        unpack(PLAN.evaluate_inputs),
    output:
        metrics=PLAN.layout.evaluate.metrics,
        predictions=PLAN.layout.evaluate.predictions,
        record=PLAN.layout.evaluate.record,
    log:
        PLAN.layout.evaluate.log,
    benchmark:
        PLAN.layout.evaluate.benchmark
    priority: CHAIN_PRIORITY["evaluate"]
    conda:
        "../envs/samebits.yaml"
    threads: PLAN.threads
    params:
        step=PLAN.evaluate_params,
    script:
        "../scripts/evaluate.py"
