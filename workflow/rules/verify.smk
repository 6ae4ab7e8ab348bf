# The lock is read and written by path, never declared: Snakemake deletes declared outputs
# before a job runs and reruns a job whose declared input is newer. verify writes its verdict
# and reports whether it passes or not; the run prints the verdict at its end and fails when
# it failed (Snakefile: onsuccess), and the next run verifies again (samebits.lifecycle).
rule verify:
    input:
        records=PLAN.all_records,
    output:
        verdict=PLAN.layout.verify.verdict,
        json=PLAN.layout.verify.json,
        markdown=PLAN.layout.verify.markdown,
        html=report(
            PLAN.layout.verify.html,
            caption="../report/verification.rst",
            category="Verification",
            labels={"table": "status of every step"},
        ),
    log:
        PLAN.layout.verify.log,
    conda:
        "../envs/samebits.yaml"
    threads: 1
    params:
        step=PLAN.verify_params,
    script:
        "../scripts/verify.py"
