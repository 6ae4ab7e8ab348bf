"""samebits: train TensorFlow/Keras models so that a rerun gives the same bits, and prove it."""

__version__ = "0.1.0"
