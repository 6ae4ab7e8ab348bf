"""What goes into the paper: the summary table over seeds and the figures. No TensorFlow.

Imports ``core`` and ``provenance``.
"""
