"""A test builder: a small MLP with BatchNormalization (measured not portable between CPUs)."""

import keras


def build(input_shape, n_classes, seeds, units=16):
    glorot = keras.initializers.GlorotUniform
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(units, name="dense_1", kernel_initializer=glorot(seed=seeds("dense_1/kernel")))(x)
    x = keras.layers.BatchNormalization(name="bn_1")(x)
    x = keras.layers.Activation("relu", name="relu_1")(x)
    out_init = glorot(seed=seeds("output/kernel"))
    y = keras.layers.Dense(n_classes, activation="softmax", name="output", kernel_initializer=out_init)(x)
    return keras.Model(inputs, y, name="bn_mlp")
