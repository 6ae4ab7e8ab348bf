rule train:
    input:
        unpack(train_inputs),
    output:
        weights="results/experiments/{experiment}/seed{seed}/weights.npz",
        history="results/experiments/{experiment}/seed{seed}/history.json",
        keras="results/experiments/{experiment}/seed{seed}/model.keras",
        record="results/experiments/{experiment}/seed{seed}/train.record.json",
    log:
        "logs/train/{experiment}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{experiment}/seed{seed}.tsv"
    # finish chains before starting new ones: with --cores N the last jobs are
    # not one chain's train and evaluate, one after the other on one core
    priority: 2
    conda:
        "../envs/samebits.yaml"
    threads: THREADS
    params:
        step=train_params,
    script:
        "../scripts/train.py"
