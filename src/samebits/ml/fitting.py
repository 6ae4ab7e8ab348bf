"""Training with Keras' ``fit()``, checkpointed at epoch ends and batch boundaries, and
resumed in the middle of an epoch to the bits of an uninterrupted run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import resume
from .checkpointing import Checkpointer

__all__ = ["fit"]


def fit(
    checkpointer: Checkpointer,
    *,
    batches: Callable[[int, int], Any],
    validation: Any,
    start: resume.Checkpoint | None,
) -> None:
    """``model.fit()`` over every epoch from ``start`` (or from epoch 0), checkpointing as
    ``checkpointer`` says (a callback reports each batch and epoch end to it);
    ``batches(epoch, batch)`` is the dataset of every batch from that point.

    A resume in the middle of an epoch finishes that epoch in a fit() of its own, whose
    user callbacks see neither on_train_begin (which would reset their state) nor
    on_train_end (where EarlyStopping would restore its best weights mid-training), and
    whose end does not swap in an optimizer's moving averages (``use_ema``). Another fit()
    runs the remaining epochs; the callbacks' state is put back after it resets them.
    """
    import keras

    model, steps, epochs = checkpointer.model, checkpointer.steps, checkpointer.epochs

    class Reporter(keras.callbacks.Callback):
        def __init__(self, first_batch: int = 0):
            super().__init__()
            self.first_batch, self.epoch = first_batch, 0

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            checkpointer.apply_callback_states()

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epoch = epoch
            checkpointer.apply_metrics()

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            checkpointer.batch_end(self.epoch, self.first_batch + batch + 1)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.first_batch = 0
            checkpointer.epoch_end(epoch, logs)  # after the user's callbacks: the weights the epoch ends with

    fit_args = {"shuffle": False, "verbose": 0, "validation_data": validation}
    epoch = 0 if start is None else start.epoch
    if start is not None and start.batch:
        # The TensorFlow backend creates the metric variables when it first traces a train
        # step; they must exist now, to take the saved running sums (Keras' own build,
        # symbolic: no step runs, no state but the zeroed metrics changes).
        model._symbolic_build(data_batch=next(iter(batches(epoch, start.batch))))
        quiet = [_Quiet(c) for c in checkpointer.callbacks]
        finalize = checkpointer.optimizer.finalize_variable_values
        checkpointer.optimizer.finalize_variable_values = lambda *args, **kwargs: None
        try:
            model.fit(
                batches(epoch, start.batch),
                epochs=epoch + 1,
                initial_epoch=epoch,
                steps_per_epoch=steps - start.batch,
                callbacks=[*quiet, Reporter(start.batch)],
                **fit_args,
            )
        finally:
            checkpointer.optimizer.finalize_variable_values = finalize
        checkpointer.stopped = bool(model.stop_training)
        checkpointer.keep_callback_states()
        epoch += 1
    last = epoch if checkpointer.stopped else epochs
    model.fit(
        batches(min(epoch, epochs - 1), 0),
        epochs=last,
        initial_epoch=epoch,
        steps_per_epoch=steps,
        callbacks=[*checkpointer.callbacks, Reporter()],
        **fit_args,
    )


class _Quiet:
    """A user's callback for the rest of a resumed epoch (see :func:`fit`)."""

    def __new__(cls, inner: Any) -> Any:
        import keras

        class Quiet(keras.callbacks.Callback):
            def set_model(self, model: Any) -> None:
                super().set_model(model)
                inner.set_model(model)

            def set_params(self, params: dict[str, Any]) -> None:
                super().set_params(params)
                inner.set_params(params)

        for hook in (
            "on_epoch_begin",
            "on_epoch_end",
            "on_train_batch_begin",
            "on_train_batch_end",
            "on_test_begin",
            "on_test_end",
            "on_test_batch_begin",
            "on_test_batch_end",
        ):
            setattr(Quiet, hook, lambda self, *args, _hook=hook, **kwargs: getattr(inner, _hook)(*args, **kwargs))
        return Quiet()
