"""What a step ran on and wrote, and whether a rerun reproduced it.

The environment fingerprint, step records, the lock, the comparison of a record with its
accepted one, the check of the files on disk, and verify (the lock policy) with its
renderings. Imports only ``core``; never TensorFlow.
"""
