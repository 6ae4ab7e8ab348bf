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
    priority: CHAIN_PRIORITY["init"]
    conda:
        "../envs/samebits.yaml"
    threads: PLAN.threads
    params:
        step=PLAN.init_params,
    script:
        "../scripts/init.py"
