rule init:
    input:
        split=experiment_split,
    output:
        init="results/experiments/{experiment}/seed{seed}/init.npz",
        model="results/experiments/{experiment}/seed{seed}/model.json",
        record="results/experiments/{experiment}/seed{seed}/init.record.json",
    log:
        "logs/init/{experiment}/seed{seed}.log",
    benchmark:
        "benchmarks/init/{experiment}/seed{seed}.tsv"
    # finish chains before starting new ones: with --cores N the last jobs are
    # not one chain's train and evaluate, one after the other on one core
    priority: 1
    conda:
        "../envs/samebits.yaml"
    threads: THREADS
    params:
        step=init_params,
    script:
        "../scripts/init.py"
