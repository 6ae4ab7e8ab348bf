"""The training side: the determinism recipe, data sets, models, weights, metrics and the four
steps of a chain (split, init, train, evaluate).

Imports ``core`` and ``provenance`` (a step writes its record). TensorFlow is imported inside
functions only, so importing this package costs nothing until a step runs.
"""
