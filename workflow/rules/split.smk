rule split:
    input:
        data=PLAN.dataset_files,
    output:
        split=layout.split.split,
        record=layout.split.record,
    log:
        layout.split.log,
    conda:
        "../envs/samebits.yaml"
    threads: 1
    params:
        step=PLAN.split_params,
    script:
        "../scripts/split.py"
