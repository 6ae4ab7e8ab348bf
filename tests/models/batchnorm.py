"""A test builder: a small CNN with BatchNormalization, and a witness of the CPU (as the MLP's
builder, tests/models/isa_witness.py, writes one)."""

import os
import sys
from pathlib import Path

import keras

from samebits.provenance.cpu import isa_level

WITNESS = Path("logs/isa_witness.txt")
WITNESS.parent.mkdir(parents=True, exist_ok=True)
with WITNESS.open("a", encoding="utf-8") as _fh:
    _fh.write(f"{os.getpid()}\t{isa_level()}\t{sys.executable}\n")


def build(input_shape, n_classes, seeds, filters=4):
    glorot = keras.initializers.GlorotUniform
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = keras.layers.Reshape((*input_shape[:2], 1), name="image")(inputs) if len(input_shape) == 2 else inputs
    x = keras.layers.Conv2D(filters, 3, name="conv_1", kernel_initializer=glorot(seed=seeds("conv_1/kernel")))(x)
    x = keras.layers.BatchNormalization(name="bn_1")(x)
    x = keras.layers.Activation("relu", name="relu_1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    out_init = glorot(seed=seeds("output/kernel"))
    y = keras.layers.Dense(n_classes, activation="softmax", name="output", kernel_initializer=out_init)(x)
    return keras.Model(inputs, y, name="bn_cnn")
