rule init:
    input:
        unpack(PLAN.init_inputs),
    output:
        init=PLAN.layout.init.init,
        model=PLAN.layout.init.model,
        record=PLAN.layout.init.record,
    log:
        PLAN.layout.init.log,
    benchmark:
        PLAN.layout.init.benchmark
    priority: CHAIN_PRIORITY["init"]
    conda:
        "../envs/samebits.yaml"
    threads: PLAN.threads
    params:
        step=PLAN.init_params,
    script:
        "../scripts/init.py"
