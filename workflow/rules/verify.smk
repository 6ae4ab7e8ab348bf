# The lock is read and written by path, never declared: Snakemake deletes declared outputs
# before a job runs and reruns a job whose declared input is newer. The reports
# (results/verification.json, .md) are not declared either, so they survive a failed
# verification; the marker and the report's status page are written only when it passes.
rule verify:
    input:
        records=all_records,
    output:
        marker=VERIFIED,
        status=report(
            "results/verification.html",
            caption="../report/verification.rst",
            category="Verification",
            labels={"table": "status of every step"},
        ),
    log:
        "logs/verify.log",
    conda:
        "../envs/samebits.yaml"
    threads: 1
    params:
        step=verify_params,
    script:
        "../scripts/verify.py"
