"""A loss of the user's own (tests/configs/variations.yaml): per-sample values, as a Keras
loss function returns them; samebits reduces them over the batch for the user's loop."""

import keras


def crossentropy(y_true, y_pred):
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)


def raw_rsqrt(y_true, y_pred):
    """Cross-entropy weighted by a reciprocal square root taken with the raw op, which no
    Python entry point (so no exact kernel of the portable profile) reaches."""
    import tensorflow as tf

    weight = tf.reduce_mean(tf.raw_ops.Rsqrt(x=y_pred + 1.0), axis=-1)
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred) * weight
