"""The paper's figures by task: byte-stable (two drawings, the same bytes), and the record
names the predictions only where the figure reads them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from samebits.core import fileio
from samebits.core.errors import RecordError
from samebits.ml.metrics import evaluation
from samebits.paper.figures import figure_of_test_set, figures, first_metric, learning_curves, roc_points

SEEDS = (0, 1, 2)


def _history(seed: int, *, epochs: int = 6, ran: int | None = None, metric: str = "accuracy", val: bool = False):
    rng = np.random.default_rng(seed)
    ran = epochs if ran is None else ran
    loss = np.sort(rng.uniform(0.1, 2.0, ran))[::-1]
    history = {"epochs": epochs, "loss": loss.tolist(), metric: np.sort(rng.uniform(0, 1, ran)).tolist()}
    if val:
        history |= {"val_loss": (loss + 0.1).tolist(), f"val_{metric}": rng.uniform(0, 1, ran).tolist()}
        history["learning_rate"] = [1e-3] * ran
    history["epoch_weights"] = []
    return history


def _evaluated(task: str, seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    n = 40
    if task == "multiclass":
        y = rng.integers(0, 3, n)
        return evaluation(task=task, y=y, outputs=rng.dirichlet(np.ones(3), n).astype(np.float32), n_classes=3)
    if task == "binary":
        y = rng.integers(0, 2, n)
        p1 = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1).astype(np.float32)
        return evaluation(task=task, y=y, outputs=p1[:, None], n_classes=2)
    y = rng.standard_normal((n, 2))
    return evaluation(task=task, y=y, outputs=(y + 0.3 * rng.standard_normal((n, 2))).astype(np.float32), n_classes=0)


def _files(tmp_path, task: str) -> tuple[dict, dict, dict]:
    paths: tuple[dict, dict, dict] = ({}, {}, {})
    for seed in SEEDS:
        metrics, predictions = _evaluated(task, seed)
        paths[0][seed] = tmp_path / f"history{seed}.json"
        paths[1][seed] = tmp_path / f"metrics{seed}.json"
        paths[2][seed] = tmp_path / f"predictions{seed}.npz"
        fileio.write_json(paths[0][seed], _history(seed))
        fileio.write_json(paths[1][seed], metrics)
        fileio.write_npz(paths[2][seed], predictions)
    return paths


def _draw_twice(tmp_path, draw) -> None:
    for run in ("a", "b"):
        draw(tmp_path / f"{run}.png", tmp_path / f"{run}.svg")
    for ext in ("png", "svg"):
        first = (tmp_path / f"a.{ext}").read_bytes()
        assert len(first) > 1000 and first == (tmp_path / f"b.{ext}").read_bytes(), ext


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_the_test_set_figure_of_every_task_is_byte_stable(tmp_path, task):
    _, metrics_paths, prediction_paths = _files(tmp_path, task)
    metrics = {s: json.loads(p.read_text()) for s, p in metrics_paths.items()}

    def draw(png, svg):
        figure_of_test_set(
            experiment="exp", task=task, metrics=metrics, prediction_paths=prediction_paths, png=png, svg=svg
        )

    _draw_twice(tmp_path, draw)


@pytest.mark.parametrize(
    "histories",
    [
        {s: _history(s) for s in SEEDS},  # samebits' default: every epoch, accuracy, no validation
        {s: _history(s, epochs=8, ran=8 - 2 * s, metric="mae", val=True) for s in SEEDS},  # early stopping
        {0: {"epochs": 3, "loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.7, 0.6]}},  # the loss alone
    ],
    ids=["default", "stopped-early", "loss-only"],
)
def test_learning_curves_are_byte_stable(tmp_path, histories):
    _draw_twice(tmp_path, lambda png, svg: learning_curves("exp", histories, png, svg))


@pytest.mark.parametrize("seed", range(10))
def test_the_roc_points_are_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 200))
    y = rng.integers(0, 2, n)
    score = np.round(rng.uniform(0, 1, n), int(rng.integers(1, 4))).astype(np.float32)  # with ties
    if seed == 0:
        assert roc_points(y=np.zeros(n, np.int64), score=score) is None
    if len(set(y.tolist())) < 2:
        assert roc_points(y=y, score=score) is None
        return
    fpr, tpr = roc_points(y=y, score=score)
    ref_fpr, ref_tpr, _ = roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_array_equal(fpr, ref_fpr)
    np.testing.assert_array_equal(tpr, ref_tpr)


def test_the_first_compiled_metric_is_the_first_key_that_is_a_metric():
    keys = ["epochs", "learning_rate", "loss", "val_auc", "val_loss", "auc", "mae", "stopped_epoch"]
    assert first_metric(dict.fromkeys(keys, [])) == "auc"
    assert first_metric({"loss": [], "note": "x", "mae": []}) == "mae"
    assert first_metric({"epochs": 2, "loss": [], "epoch_weights": []}) is None


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_the_record_names_the_predictions_only_where_the_figure_reads_them(tmp_path, monkeypatch, task):
    monkeypatch.chdir(tmp_path)
    histories, metrics, predictions = _files(tmp_path, task)
    outs = [tmp_path / name for name in ("c.png", "c.svg", "t.png", "t.svg", "figures.record.json")]
    rec = figures(histories, metrics, predictions, *outs, experiment="exp", script=None)
    assert set(rec["outputs"]) == {"curves_png", "curves_svg", "test_png", "test_svg"}
    expected = {f"{kind}_seed{s}" for kind in ("history", "metrics") for s in SEEDS}
    if task != "multiclass":
        expected |= {f"predictions_seed{s}" for s in SEEDS}
    assert set(rec["inputs"]) == expected
    assert rec["params"] == {"seeds": list(SEEDS)}


def test_an_experiment_whose_seeds_evaluated_different_tasks_is_refused(tmp_path):
    histories, metrics, predictions = _files(tmp_path, "binary")
    fileio.write_json(metrics[1], _evaluated("multiclass", 1)[0])
    outs = [tmp_path / name for name in ("c.png", "c.svg", "t.png", "t.svg", "figures.record.json")]
    with pytest.raises(RecordError, match=r"experiment exp evaluated different tasks: .*metrics1.json: multiclass"):
        figures(histories, metrics, predictions, *outs, experiment="exp", script=None)


@pytest.mark.parametrize("task", ["multiclass", "binary"])
def test_the_confusion_matrix_names_the_classes_by_the_data_s_names(tmp_path, task):
    """metrics.json's ``classes`` (written by evaluate when the classes are not 0, 1, …) name
    the rows and columns; without them the labels do."""
    _, metrics_paths, prediction_paths = _files(tmp_path, task)
    metrics = {s: json.loads(p.read_text()) for s, p in metrics_paths.items()}
    names = ["circle", "square", "a-rather-long-class-name"][: 3 if task == "multiclass" else 2]
    named = {s: {**m, "classes": names} for s, m in metrics.items()}
    for which, given in (("named", named), ("plain", metrics)):
        figure_of_test_set(
            experiment="exp",
            task=task,
            metrics=given,
            prediction_paths=prediction_paths,
            png=tmp_path / f"{which}.png",
            svg=tmp_path / f"{which}.svg",
        )
    svg, plain = (tmp_path / "named.svg").read_text(), (tmp_path / "plain.svg").read_text()
    shown = [*names[:2], "a-rather-long-c…"][: len(names)]  # a name over 16 characters is cut
    for name in shown:  # matplotlib writes each text as a comment before its glyphs
        assert svg.count(f"<!-- {name} -->") == 2 and f"<!-- {name} -->" not in plain, name
    assert ("<!-- ROC curves (square positive) -->" in svg) == (task == "binary")
