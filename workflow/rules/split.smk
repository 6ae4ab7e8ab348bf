rule split:
    input:
        data=dataset_files,
    output:
        split="results/splits/{dataset}/seed{seed}/split.npz",
        record="results/splits/{dataset}/seed{seed}/split.record.json",
    params:
        step=split_params,
    log:
        "logs/split/{dataset}/seed{seed}.log",
    threads: 1
    conda:
        "../envs/samebits.yaml"
    script:
        "../scripts/split.py"
