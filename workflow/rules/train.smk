rule train:
    input:
        unpack(PLAN.train_inputs),
    output:
        weights=layout.train.weights,
        history=layout.train.history,
        keras=layout.train.keras,
        record=layout.train.record,
    log:
        layout.train.log,
    benchmark:
        layout.train.benchmark
    priority: CHAIN_PRIORITY["train"]
    conda:
        "../envs/samebits.yaml"
    threads: PLAN.threads
    params:
        step=PLAN.train_params,
    script:
        "../scripts/train.py"
