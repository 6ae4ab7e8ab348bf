rule split:
    input:
        data=PLAN.dataset_files,
    output:
        split=PLAN.layout.split.split,
        record=PLAN.layout.split.record,
    log:
        PLAN.layout.split.log,
    conda:
        "../envs/samebits.yaml"
    threads: 1
    params:
        step=PLAN.split_params,
    script:
        "../scripts/split.py"
