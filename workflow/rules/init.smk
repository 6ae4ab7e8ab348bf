rule init:
    input:
        unpack(PLAN.init_inputs),
    output:
        init=layout.init.init,
        model=layout.init.model,
        record=layout.init.record,
    log:
        layout.init.log,
    benchmark:
        layout.init.benchmark
    # finish chains before starting new ones: with --cores N the last jobs are
    # not one chain's train and evaluate, one after the other on one core
    priority: 1
    conda:
        "../envs/samebits.yaml"
    threads: PLAN.threads
    params:
        step=PLAN.init_params,
    script:
        "../scripts/init.py"
