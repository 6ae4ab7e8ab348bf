rule init:
    input:
        split=experiment_split,
    output:
        init="results/experiments/{experiment}/seed{seed}/init.npz",
        model="results/experiments/{experiment}/seed{seed}/model.json",
        record="results/experiments/{experiment}/seed{seed}/init.record.json",
    params:
        step=init_params,
    log:
        "logs/init/{experiment}/seed{seed}.log",
    threads: THREADS
    conda:
        "../envs/samebits.yaml"
    script:
        "../scripts/init.py"
