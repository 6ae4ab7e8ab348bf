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
    conda:
        "../envs/samebits.yaml"
    threads: THREADS
    params:
        step=init_params,
    script:
        "../scripts/init.py"
