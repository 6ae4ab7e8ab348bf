"""The samebits benchmark: what reproducibility costs, measured against the bare tools.

Run it from the repository root as ``python -m bench.run`` (bench/README.md).
"""
