"""A training loop of your own (``train.trainer: config/examples/loops.py:gradient_tape``).

samebits has applied the determinism recipe, built the model with its init weights, the
optimizer and loss of the configuration; the loop takes its batch order from
``ctx.batches(epoch)`` and calls ``ctx.epoch_end(epoch, logs)`` after each epoch, which
records the weights' checksum and the logs exactly as for ``fit()``.
"""

import tensorflow as tf


def gradient_tape(ctx):
    model, optimizer, loss_fn = ctx.model, ctx.optimizer, ctx.loss

    @tf.function(jit_compile=False)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    for epoch in range(ctx.start_epoch, ctx.epochs):
        total, seen = 0.0, 0
        for x, y in ctx.batches(epoch):
            total += float(step(x, y)) * len(x)
            seen += len(x)
        logs = {"loss": total / seen}
        if ctx.validation is not None:
            vx, vy = ctx.validation
            logs["val_loss"] = float(loss_fn(vy, model(vx, training=False)))
        ctx.epoch_end(epoch, logs)
