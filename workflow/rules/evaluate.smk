rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        metrics="results/experiments/{experiment}/seed{seed}/metrics.json",
        predictions="results/experiments/{experiment}/seed{seed}/predictions.npz",
        record="results/experiments/{experiment}/seed{seed}/evaluate.record.json",
    log:
        "logs/evaluate/{experiment}/seed{seed}.log",
    benchmark:
        "benchmarks/evaluate/{experiment}/seed{seed}.tsv"
    # finish chains before starting new ones: with --cores N the last jobs are
    # not one chain's train and evaluate, one after the other on one core
    priority: 3
    conda:
        "../envs/samebits.yaml"
    threads: THREADS
    params:
        step=evaluate_params,
    script:
        "../scripts/evaluate.py"
