"""The small helpers of a training run, each against hand-computed values: the accuracy and the
per-class precision/recall/F1 written to ``test.json``, the numbered run folders, ``--val-split``'s
parsing, and the grid of most confident mistakes (read back from the figure it draws)."""

import os

import numpy as np
import pytest

from convlab import tensor
from convlab.train import logs, metrics
from convlab.train.run import new_run_dir, parse_val_split, split_train
from convlab.validate import ConvlabError


def test_accuracy_counts_rows_whose_largest_logit_is_the_label():
    logits = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    labels = np.array([1, 0, 0, 2])  # rows 0 and 1 right, 2 and 3 wrong
    assert metrics.accuracy(logits, labels) == 0.5
    assert metrics.accuracy(tensor(logits), tensor(labels)) == 0.5  # Tensors are read as their arrays
    assert metrics.accuracy(np.zeros((0, 3)), np.zeros(0, np.int64)) == 0.0  # an empty set: 0, not NaN


def test_precision_recall_f1_against_hand_computed_values():
    # rows: true class, columns: predicted class
    cm = [[5, 1, 0, 0],
          [2, 3, 0, 0],
          [0, 0, 0, 0],   # class 2: no items, never predicted: every ratio 0/0
          [0, 0, 4, 0]]   # class 3: 4 items, all predicted as class 2
    out = metrics.precision_recall_f1(cm)
    assert set(out) == {"precision", "recall", "f1", "support"}
    assert out["support"] == [6, 5, 0, 4] and all(type(v) is int for v in out["support"])
    p, r, f = out["precision"], out["recall"], out["f1"]
    assert p[0] == pytest.approx(5 / 7, rel=1e-15) and r[0] == pytest.approx(5 / 6, rel=1e-15)
    assert f[0] == pytest.approx(2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6), rel=1e-15)
    assert p[1] == pytest.approx(3 / 4, rel=1e-15) and r[1] == pytest.approx(3 / 5, rel=1e-15)
    assert f[1] == pytest.approx(2 * 0.75 * 0.6 / 1.35, rel=1e-15)
    assert p[2] == 0.0 and r[2] is None and f[2] is None  # predicted 4 times, never right; no items
    assert p[3] is None and r[3] == 0.0 and f[3] is None  # never predicted
    both_zero = metrics.precision_recall_f1(np.array([[0, 1], [1, 0]]))
    assert both_zero["precision"] == [0.0, 0.0] and both_zero["recall"] == [0.0, 0.0]
    assert both_zero["f1"] == [0.0, 0.0]  # p = r = 0: F1 0, not 0/0
    assert all(type(v) is float for v in p[:3])


def test_new_run_dir_numbers_past_the_largest_existing(tmp_path):
    base = tmp_path / "runs"
    first = new_run_dir("train", str(base))
    assert first == os.path.join(str(base), "train-001") and os.path.isdir(first)
    assert new_run_dir("train", str(base)) == os.path.join(str(base), "train-002")
    os.makedirs(base / "train-009")
    os.makedirs(base / "train-x12")      # not a number: ignored
    os.makedirs(base / "trainx-050")     # another kind's prefix: ignored
    (base / "eval-020").mkdir()
    assert new_run_dir("train", str(base)) == os.path.join(str(base), "train-010")
    assert new_run_dir("eval", str(base)) == os.path.join(str(base), "eval-021")
    assert new_run_dir("t.n", str(base)) == os.path.join(str(base), "t.n-001")  # '.' matched literally
    assert sorted(os.listdir(base)) == ["eval-020", "eval-021", "t.n-001", "train-001", "train-002", "train-009",
                                        "train-010", "train-x12", "trainx-050"]


def test_new_run_dir_skips_a_number_taken_meanwhile(tmp_path, monkeypatch):
    base = tmp_path / "runs"
    base.mkdir()
    real = os.makedirs
    taken = []

    def racing(path, *a, **k):  # another run makes train-001 between the listing and our makedirs
        if path.endswith("train-001") and not taken:
            taken.append(path)
            real(path)
        return real(path, *a, **k)

    monkeypatch.setattr(os, "makedirs", racing)
    assert new_run_dir("train", str(base)) == os.path.join(str(base), "train-002")


@pytest.mark.parametrize("text, value", [("500", 500), (500, 500), (np.int64(7), 7), ("0", 0), (" 12 ", 12),
                                         ("1", 1), ("0.1", 0.1), (0.25, 0.25), ("10%", 0.1), ("2.5%", 0.025), (".5", 0.5)])
def test_parse_val_split_accepts_counts_and_fractions(text, value):
    got = parse_val_split(text)
    assert got == value and type(got) is type(value if not isinstance(value, np.integer) else 0)


@pytest.mark.parametrize("text", ["2.0", "1.0", "0.0", "-3", "100%", "abc", "", "-0.5", True, 1.5, 0.0, -1])
def test_parse_val_split_refuses_the_rest_naming_the_text(text):
    with pytest.raises(ConvlabError) as e:
        parse_val_split(text)
    assert str(e.value) == ("--val-split must be a fraction between 0 and 1 (like 0.1) or a whole count of images "
                            f"(like 500), got {text}")


def test_split_train_holds_out_the_asked_share():
    train = list(range(50))
    kept, held = split_train(train, None, seed=3)          # the default: 10%
    assert len(held) == 5 and len(kept) == 45 and sorted([*kept, *held]) == train
    assert len(split_train(train, 0.2, 3)[1]) == 10 and len(split_train(train, 7, 3)[1]) == 7
    assert np.array_equal(split_train(train, 7, 3)[1], split_train(train, 7, 3)[1])
    with pytest.raises(ConvlabError, match="--val-split 50 must leave training data: the training set has 50 images"):
        split_train(train, 50, 3)


@pytest.fixture
def drawn(monkeypatch):
    """plot_mistakes' figure, kept instead of saved."""
    figures = []
    monkeypatch.setattr(logs, "_save", lambda fig, path: figures.append((fig, path)))
    yield figures
    import matplotlib.pyplot as plt

    for fig, _ in figures:
        plt.close(fig)


def test_plot_mistakes_titles_each_picture_with_truth_prediction_and_confidence(drawn):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (5, 1, 6, 6)).astype(np.uint8)
    classes = ["cat", "dog", "owl"]
    true, pred, conf = [0, 1, 2, 0, 1], [1, 2, 0, 2, 0], [0.9876, 0.5, 0.25, 0.125, 1.0]
    assert logs.plot_mistakes(pixels, true, pred, conf, classes, "m.png") == "m.png"
    (fig, path), = drawn
    assert path == "m.png" and fig._suptitle.get_text() == "most confidently wrong"
    axes = fig.axes
    assert len(axes) == 8  # 5 pictures on a grid of 4 columns: 2 rows
    assert tuple(fig.get_size_inches()) == pytest.approx((12.0, 3.3 * 2 + 0.6))
    titles = [ax.get_title() for ax in axes]
    assert titles[:5] == ["true: cat\npredicted: dog (98.8%)", "true: dog\npredicted: owl (50.0%)",
                          "true: owl\npredicted: cat (25.0%)", "true: cat\npredicted: owl (12.5%)",
                          "true: dog\npredicted: cat (100.0%)"]
    assert titles[5:] == ["", "", ""] and all(not ax.images for ax in axes[5:])
    for k in range(5):
        (im,) = axes[k].images
        np.testing.assert_allclose(im.get_array(), pixels[k, 0] / 255, rtol=0, atol=1e-7)  # uint8 read as /255
        assert im.get_cmap().name == "gray" and im.get_clim() == (0, 1)
        assert not axes[k].axison
    assert all(not ax.axison for ax in axes)


def test_plot_mistakes_draws_colour_in_hwc_clipped_and_says_when_there_are_none(drawn):
    pixels = np.linspace(-0.5, 1.5, 2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    logs.plot_mistakes(pixels, [0, 1], [1, 0], [0.5, 0.5], ["a", "b"], "c.png", title="worst")
    fig, _ = drawn[0]
    assert fig._suptitle.get_text() == "worst" and len(fig.axes) == 2
    assert tuple(fig.get_size_inches()) == pytest.approx((6.0, 3.9))
    (im,) = fig.axes[1].images
    np.testing.assert_allclose(im.get_array(), np.clip(pixels[1].transpose(1, 2, 0), 0, 1), rtol=0, atol=1e-7)
    logs.plot_mistakes(np.zeros((0, 1, 4, 4), np.float32), [], [], [], ["a", "b"], "n.png")
    fig, _ = drawn[1]
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == ["no mistakes"] and not ax.images


def test_check_out_dir_refuses_what_prepare_out_dir_would_and_makes_nothing(tmp_path):
    from convlab.train.run import check_out_dir

    check_out_dir(None, False)  # a numbered folder will be made: nothing to check
    check_out_dir(str(tmp_path / "new"), False)
    (tmp_path / "empty").mkdir()
    check_out_dir(str(tmp_path / "empty"), False)
    assert sorted(os.listdir(tmp_path)) == ["empty"]  # nothing made
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError) as e:
        check_out_dir(str(tmp_path / "file"), True)
    assert str(e.value) == f"--out {tmp_path / 'file'} exists and is not a directory"
    (tmp_path / "empty" / "a").write_text("x")
    with pytest.raises(FileExistsError) as e:
        check_out_dir(str(tmp_path / "empty"), False)
    assert str(e.value) == (f"--out {tmp_path / 'empty'} already holds files; pass --force to write over them, "
                            "or choose another --out")
    check_out_dir(str(tmp_path / "empty"), True)


def test_apply_bn_momentum_sets_every_batch_norm_layer():
    from convlab import nn
    from convlab.train.recipes import apply_bn_momentum

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Sequential(nn.BatchNorm1d(4)),
                          nn.LayerNorm(4))
    assert apply_bn_momentum(model, 0.01) == 2
    assert model[1].momentum == 0.01 and model[3][0].momentum == 0.01
    assert apply_bn_momentum(nn.Linear(2, 2), 0.5) == 0


def test_the_first_ctrl_c_asks_for_a_stop_at_the_step_boundary_and_the_second_interrupts():
    import signal

    from convlab.train.loop import _DeferredSigint

    said = []
    # The guard takes over only Python's own Ctrl-C handler (a program started in the background
    # inherits SIGINT ignored, and must keep it so); install that handler for the test wherever it runs.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = signal.getsignal(signal.SIGINT)
    try:
        _check_the_guard(_DeferredSigint, said, before)
    finally:
        signal.signal(signal.SIGINT, inherited)


def _check_the_guard(_DeferredSigint, said, before):
    import signal

    with _DeferredSigint(said.append) as guard:
        assert signal.getsignal(signal.SIGINT) == guard._handle
        assert not guard.requested
        guard._handle(signal.SIGINT, None)
        assert guard.requested
        assert said == ["\ninterrupt: stopping after this step and saving a checkpoint (Ctrl-C again to stop at once)"]
        with pytest.raises(KeyboardInterrupt):
            guard._handle(signal.SIGINT, None)
        assert len(said) == 1
    assert signal.getsignal(signal.SIGINT) is before


def _two_ranks(monkeypatch, other):
    """distributed.allreduce_ as if a second rank held ``other`` (its meter's k, then its buffer)."""
    from convlab import distributed

    def allreduce_(array, average=False, timeout=None, op="sum"):
        theirs = np.asarray(other.pop(0)).astype(array.dtype)
        if op == "max":
            np.maximum(array, theirs, out=array)
        else:
            array += theirs
        return array

    monkeypatch.setattr(distributed, "allreduce_", allreduce_)


def test_a_meter_is_summed_over_the_ranks(monkeypatch):
    from convlab.train.evaluation import _allreduce_meter

    meter = metrics.Meter(num_classes=2)
    meter.update(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), np.array([0, 0, 1]), loss=0.5)
    # the other rank: 2 items, loss sum 0.8, 1 correct, 2 top-k hits, confusion [[0, 1], [0, 1]]
    _two_ranks(monkeypatch, [[2], [2, 0.8, 1, 2, 0, 1, 0, 1]])
    _allreduce_meter(meter)
    assert (meter.n, meter.correct, meter.topk_hits) == (5, 1 + 1, 3 + 2)  # row 0 right here, one there
    assert meter.loss_sum == pytest.approx(0.5 * 3 + 0.8, rel=1e-15)
    assert meter.confusion.tolist() == [[1, 2], [1, 1]] and meter.confusion.dtype == np.int64


def test_a_rank_that_saw_no_data_takes_the_others_counts(monkeypatch):
    from convlab.train.evaluation import _allreduce_meter

    meter = metrics.Meter()
    _two_ranks(monkeypatch, [[2], [4, 2.0, 3, 4, 2, 0, 1, 1]])
    _allreduce_meter(meter)
    assert (meter.n, meter.loss_sum, meter.correct, meter.topk_hits) == (4, 2.0, 3, 4)
    assert meter.confusion.tolist() == [[2, 0], [1, 1]]
    nobody = metrics.Meter()
    _two_ranks(monkeypatch, [[0], [0, 0.0, 0, 0]])
    _allreduce_meter(nobody)
    assert nobody.n == 0 and nobody.confusion is None


def test_weights_with_nan_or_infinity_are_refused_by_name():
    from convlab.train.checkpoint import check_finite_weights

    state = {f"w{i}": np.ones(4, np.float32) for i in range(8)}
    check_finite_weights(state, "ok.safetensors")  # all finite: nothing to say
    check_finite_weights({"steps": np.array([1, 2]), "empty": np.zeros(0, np.float32)}, "ok")  # ints and empties pass
    for i in (1, 2, 3, 4, 5, 6, 7):
        state[f"w{i}"][: i % 4 + 1] = np.nan if i % 2 else np.inf
    state["w1"] = tensor(state["w1"])  # a Tensor is read as its array
    with pytest.raises(ConvlabError) as e:
        check_finite_weights(state, "run/last.safetensors")
    assert str(e.value) == ("run/last.safetensors: the weights hold NaN or infinite values: w1 (2 of 4), w2 (3 of 4), "
                            "w3 (4 of 4), w4 (1 of 4), w5 (2 of 4) and 2 more; the run that wrote them diverged "
                            "(try a smaller --lr), so this checkpoint cannot make predictions")


def test_a_checkpoint_without_a_model_spec_cannot_be_rebuilt():
    from convlab.train.checkpoint import model_from_checkpoint

    for ckpt in ([1, 2], None, {"model": {}}, {"model_spec": {"kwargs": {}}, "model": {}}):
        with pytest.raises(ConvlabError) as e:
            model_from_checkpoint(ckpt, "x.safetensors")
        assert str(e.value) == ("x.safetensors does not record which model it holds (no model_spec), "
                                "so it cannot be rebuilt")
