rule train:
    input:
        unpack(PLAN.train_inputs),
    output:
        weights=PLAN.layout.train.weights,
        history=PLAN.layout.train.history,
        keras=PLAN.layout.train.keras,
        record=PLAN.layout.train.record,
    log:
        PLAN.layout.train.log,
    benchmark:
        PLAN.layout.train.benchmark
    priority: CHAIN_PRIORITY["train"]
    conda:
        "../envs/samebits.yaml"
    threads: PLAN.threads
    params:
        step=PLAN.train_params,
    script:
        "../scripts/train.py"
