"""Models of the examples, written as a Keras user writes them; samebits calls each with
``(input_shape, n_classes, seeds, **options)`` and uses the uncompiled model it returns.

Every layer is named (the weights are stored by layer name) and every initializer takes
its seed from ``seeds("a/name")``: a sub-seed of the run's master seed, recorded.
"""

import keras


def recipe(input_shape, n_classes, seeds, *, units=64):
    """The classic reproducibility recipe's binary classifier: Dense(64, relu), then one
    sigmoid unit, as a ``keras.Sequential``."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Dense(
                units,
                activation="relu",
                name="hidden",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seeds("hidden/kernel")),
            ),
            keras.layers.Dense(
                1,
                activation="sigmoid",
                name="output",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seeds("output/kernel")),
            ),
        ],
        name="recipe",
    )
