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
    # finish chains before starting new ones: with --cores N the last jobs are
    # not one chain's train and evaluate, one after the other on one core
    priority: 2
    conda:
        "../envs/samebits.yaml"
    threads: PLAN.threads
    params:
        step=PLAN.train_params,
    script:
        "../scripts/train.py"
