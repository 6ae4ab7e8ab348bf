rule split:
    input:
        data=dataset_files,
    output:
        split="results/splits/{dataset}/seed{seed}/split.npz",
        record="results/splits/{dataset}/seed{seed}/split.record.json",
    log:
        "logs/split/{dataset}/seed{seed}.log",
    conda:
        "../envs/samebits.yaml"
    threads: 1
    params:
        step=split_params,
    script:
        "../scripts/split.py"
