"""The bottom layer: what every other layer uses.

Errors, seeds, canonical checksums, the one file writer, structured differences, the path
layout of a run and the logging of a step's process. Imports nothing else of samebits and
never TensorFlow.
"""
