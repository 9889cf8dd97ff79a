"""Every ``convlab train`` flag and default reaches what it names.

Each test runs the command in-process on the synthetic lines data and stops it where training
would begin (``Trainer.fit`` is replaced by a recorder), then looks at the objects the command
built: the model, the optimizer's groups, the scheduler, the loaders and the trainer. A flag that
the command parsed but dropped, or a default that changed, fails here. The default recipe's values
are written out literally.
"""

import json

import numpy as np
import pytest

from convlab import optim
from convlab.cli import build_parser, main
from convlab.optim import lr_scheduler as S
from convlab.train import loop, recipes

TINY = ["--dataset", "lines", "--limit-train", "48", "--limit-test", "16", "-q"]


class Stop(Exception):
    """Raised by the recorder in place of training."""


@pytest.fixture
def built(monkeypatch, tmp_path):
    """``run(*flags)``: ``convlab train TINY *flags``, stopped at ``Trainer.fit``; returns what it built:
    ``trainer``, ``train_loader``, ``val_loader``, ``epochs`` and the written ``config``."""

    def run(*flags):
        seen = {}

        def record(self, train_loader, val_loader=None, epochs=1, resume=None, max_steps=None):
            seen.update(trainer=self, train_loader=train_loader, val_loader=val_loader, epochs=epochs)
            # read now: a run that stops before its first checkpoint removes what it wrote
            seen["config"] = json.loads((out / "config.json").read_text())
            raise Stop

        monkeypatch.setattr(loop.Trainer, "fit", record)
        out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        assert main(["train", *TINY, "--out", str(out), *flags]) == 1  # the recorder's Stop: one line, exit 1
        return seen

    return run


def test_the_default_recipe():
    """``convlab train`` with no flags: CompactCNN on Fashion-MNIST, 7 epochs of batch 128, AdamW at
    3e-3 with weight decay 5e-4 and a one-cycle schedule, label smoothing 0.1, the default validation
    split, seed 0 (92.95% on the 2-core machine, README)."""
    assert recipes.DEFAULT == {"model": "compactcnn", "dataset": "fashion-mnist", "epochs": 7, "batch_size": 128,
                               "optimizer": "adamw", "lr": 3e-3, "weight_decay": 5e-4, "schedule": "onecycle",
                               "label_smoothing": 0.1, "val_split": None}
    args = build_parser().parse_args(["train"])
    assert (args.model, args.dataset, args.batch_size, args.optimizer, args.lr, args.weight_decay, args.schedule) == (
        "compactcnn", "fashion-mnist", 128, "adamw", 3e-3, 5e-4, "onecycle")
    assert (args.epochs, args.seed, args.augment, args.erase, args.pad, args.early_stopping, args.val_split) == (
        None, 0, False, 0.0, 0, None, None)
    assert args.label_smoothing == 0.1


def test_defaults_reach_the_built_objects(built):
    seen = built()
    trainer, cfg = seen["trainer"], seen["config"]
    assert type(trainer.model).__name__ == "CompactCNN" and cfg["model_spec"]["name"] == "compactcnn"
    opt = trainer.optimizer
    assert type(opt) is optim.AdamW
    # one cycle: from 3e-3 / 25 up to 3e-3
    assert opt.param_groups[0]["max_lr"] == 3e-3 and opt.param_groups[0]["initial_lr"] == 3e-3 / 25
    assert opt.param_groups[0]["weight_decay"] == 5e-4
    assert type(trainer.scheduler) is S.OneCycleLR and trainer.scheduler_interval == "batch"
    assert trainer.scheduler.total_steps == 7 * len(seen["train_loader"])
    assert seen["epochs"] == 7 == cfg["epochs"]
    assert trainer.loss_fn.label_smoothing == 0.1 == cfg["label_smoothing"]
    assert seen["train_loader"].batch_size == 128 and cfg["batch_size"] == 128
    assert trainer.early_stopping is None
    assert trainer.progress is False  # -q, and not a terminal
    assert cfg["seed"] == 0 and cfg["pad"] == 0


@pytest.mark.parametrize("name, cls, extra", [
    ("sgd", optim.SGD, {"momentum": 0.9, "nesterov": True}),
    ("adam", optim.Adam, {}),
    ("adamw", optim.AdamW, {}),
])
def test_optimizer_lr_and_weight_decay(built, name, cls, extra):
    seen = built("--optimizer", name, "--lr", "0.02", "--weight-decay", "0.125", "--schedule", "none")
    opt = seen["trainer"].optimizer
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["lr"] == 0.02 and group["weight_decay"] == 0.125
    assert {k: group[k] for k in extra} == extra
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(seen["trainer"].model.parameters()))


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "step", "none"])
def test_schedule(built, schedule):
    seen = built("--schedule", schedule, "--epochs", "3", "--lr", "0.01")
    sched, steps = seen["trainer"].scheduler, len(seen["train_loader"])
    if schedule == "none":
        assert sched is None
    elif schedule == "cosine":
        assert type(sched) is S.CosineAnnealingLR and sched.T_max == 3 and sched.eta_min == 0.0
        assert seen["trainer"].scheduler_interval == "epoch"
    elif schedule == "onecycle":
        assert type(sched) is S.OneCycleLR and sched.total_steps == 3 * steps
        assert seen["trainer"].scheduler_interval == "batch"
    else:
        assert type(sched) is S.StepLR and sched.step_size == 1 and sched.gamma == 0.1
    assert seen["config"]["schedule"] == schedule and seen["epochs"] == 3


def test_batch_size_epochs_seed_and_early_stopping(built):
    seen = built("--batch-size", "8", "--epochs", "2", "--seed", "7", "--early-stopping", "3", "--val-split", "8")
    assert seen["train_loader"].batch_size == 8 and seen["epochs"] == 2
    assert seen["trainer"].early_stopping == 3 and seen["config"]["early_stopping"] == 3
    assert seen["config"]["seed"] == 7 and seen["val_loader"] is not None and len(seen["val_loader"].dataset) == 8


def test_seed_changes_the_initial_weights(built):
    a = [p.detach().numpy().copy() for p in built("--seed", "1")["trainer"].model.parameters()]
    b = [p.detach().numpy().copy() for p in built("--seed", "1")["trainer"].model.parameters()]
    c = [p.detach().numpy().copy() for p in built("--seed", "2")["trainer"].model.parameters()]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, z) for x, z in zip(a, c))


def test_model_flag(built):
    seen = built("--model", "lenet5", "--pad", "10")  # the 8x8 lines padded to the 28x28 LeNet-5 takes
    assert type(seen["trainer"].model).__name__ == "LeNet5" and seen["config"]["model_spec"]["name"] == "lenet5"


def test_pad_adds_zero_border_to_every_batch(built):
    plain = next(iter(built("--schedule", "none")["train_loader"]))[0].numpy()
    seen = built("--pad", "3", "--schedule", "none", "--no-normalize")
    padded = next(iter(seen["train_loader"]))[0].numpy()
    assert padded.shape[2:] == (plain.shape[2] + 6, plain.shape[3] + 6)
    border = np.ones(padded.shape[2:], bool)
    border[3:-3, 3:-3] = False
    assert (padded[:, :, border] == 0).all() and seen["config"]["pad"] == 3
    assert padded[:, :, 3:-3, 3:-3].any()


def test_progress_flag_without_quiet(monkeypatch, tmp_path):
    """--progress turns the bar on on a non-terminal stderr, --no-progress off on a terminal."""
    import sys

    seen = {}

    def record(self, *a, **k):
        seen["progress"] = self.progress
        raise Stop

    for flag, tty, expected in (("--progress", False, True), ("--no-progress", True, False), (None, True, True)):

        monkeypatch.setattr(loop.Trainer, "fit", record)
        monkeypatch.setattr(sys.stderr, "isatty", lambda tty=tty: tty, raising=False)
        flags = [f for f in TINY if f != "-q"] + ([flag] if flag else [])
        assert main(["train", *flags, "--out", str(tmp_path / f"p{flag}")]) == 1
        assert seen["progress"] is expected, flag


# --------------------------------------------------------------------------- the other commands' flags
@pytest.fixture(scope="module")
def lines_run(tmp_path_factory):
    """One real, tiny training run on the lines (8x8 pictures of vertical or horizontal lines)."""
    from helpers import no_plots

    out = tmp_path_factory.mktemp("flags") / "run"
    with pytest.MonkeyPatch.context() as mp:  # the plots only for this run, not the rest of the process
        no_plots(mp)
        assert main(["train", *TINY, "--epochs", "1", "--batch-size", "16", "--out", str(out)]) == 0
    return out


def test_evaluate_split_and_mistakes(lines_run, tmp_path, capsys):
    """--split picks the dataset's split (its size and the metrics file say which); --mistakes caps
    the listed mistakes; --limit the pictures."""
    sizes = {}
    for split in ("train", "test"):
        out = tmp_path / split
        assert main(["evaluate", str(lines_run), "--split", split, "--out", str(out), "--mistakes", "1", "-q"]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["split"] == split and len(metrics["mistakes"]) <= 1
        sizes[split] = metrics["n"]
    assert sizes["train"] != sizes["test"]
    assert main(["evaluate", str(lines_run), "--limit", "5", "--out", str(tmp_path / "lim"), "-q"]) == 0
    assert json.loads((tmp_path / "lim" / "metrics.json").read_text())["n"] == 5


def _picture(path, value_rows):
    from PIL import Image

    Image.fromarray(np.asarray(value_rows, np.uint8)).save(path)
    return str(path)


def test_predict_invert_is_prediction_of_the_inverted_picture(lines_run, tmp_path, capsys):
    """--invert flips the picture's intensities before the model sees it: the same probabilities as
    predicting the inverted file without the flag, and not those of the picture itself."""
    rng = np.random.default_rng(0)
    img = (rng.random((8, 8)) * 255).astype(np.uint8)
    img[:, 3] = 255
    pic, inv = _picture(tmp_path / "a.png", img), _picture(tmp_path / "b.png", 255 - img)
    results = {}
    for name, args in (("flag", [pic, "--invert"]), ("file", [inv]), ("plain", [pic])):
        out = tmp_path / f"{name}.json"
        assert main(["predict", str(lines_run), *args, "--topk", "2", "-o", str(out), "-q"]) == 0
        results[name] = [t["probability"] for t in json.loads(out.read_text())[0]["topk"]]
    assert results["flag"] == pytest.approx(results["file"], abs=1e-6)
    assert results["flag"] != pytest.approx(results["plain"], abs=1e-3)


def test_models_build_counts_the_built_model(monkeypatch, capsys):
    """--build prints the parameters of the constructed model, without it the registered figure (a
    registry entry with a wrong figure tells them apart)."""
    import convlab.models as models

    info = models.info("lenet5")
    monkeypatch.setattr(models, "_REGISTRY", {"lenet5": models.ModelInfo("lenet5", info.factory, info.input_size, 12345)})
    assert main(["models"]) == 0
    assert "12,345" in capsys.readouterr().out
    assert main(["models", "--build"]) == 0
    out = capsys.readouterr().out
    assert "61,706" in out and "12,345" not in out


def test_filter_mode_boundary_gray_and_scaling(tmp_path):
    """--mode valid / same with each --boundary, --gray, --abs and --rescale against scipy's
    convolve2d on the padded picture (the output PNG read back)."""
    from PIL import Image
    from scipy.signal import convolve2d

    rng = np.random.default_rng(3)
    rgb = (rng.random((9, 11, 3)) * 255).astype(np.uint8)
    src = tmp_path / "in.png"
    Image.fromarray(rgb).save(src)
    gray = rgb.astype(np.float64) @ [0.299, 0.587, 0.114]  # ITU-R 601-2 luma (PIL's "L"), kept unrounded
    k = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, 0.5]])
    spec = "1,0,-1;2,0,-2;1,0,0.5"

    def run(*flags):
        out = tmp_path / f"o{len(list(tmp_path.iterdir()))}.png"
        assert main(["filter", str(src), "-k", spec, "-o", str(out), *flags, "-q"]) == 0
        return np.asarray(Image.open(out)).astype(np.int64)

    class u8:  # noqa: N801 - compares like the uint8 picture of a float response
        """The float response as the written uint8 picture: rounded and clipped; where the response
        sits on a .5 tie (within 1e-6), either neighbour is the rounding of the same number."""

        def __init__(self, v):
            self.v = np.asarray(v, np.float64)

        def __eq__(self, got):
            want = np.clip(np.rint(self.v), 0, 255)
            tie = np.abs(self.v - np.floor(self.v) - 0.5) < 1e-6
            return got.shape == want.shape and bool(np.all((got == want) | (tie & (np.abs(got - want) <= 1))))

    def same(got, want):
        return want == got

    assert same(run("--gray", "--mode", "valid"), u8(convolve2d(gray, k, mode="valid")))
    for boundary, np_mode in (("zero", "constant"), ("reflect", "reflect"), ("replicate", "edge")):
        want = convolve2d(np.pad(gray, 1, mode=np_mode), k, mode="valid")
        assert same(run("--gray", "--boundary", boundary), u8(want)), boundary
        assert same(run("--gray", "--boundary", boundary, "--abs"), u8(np.abs(want))), boundary
    want = convolve2d(np.pad(gray, 1, mode="reflect"), k, mode="valid")  # the default boundary
    assert same(run("--gray"), u8(want))
    scaled = (want - want.min()) * (255.0 / (want.max() - want.min()))
    assert same(run("--gray", "--rescale"), u8(scaled))
    colour = run("--mode", "valid")  # without --gray: each colour channel filtered
    assert colour.shape == (7, 9, 3)
    for c in range(3):
        assert same(colour[..., c], u8(convolve2d(rgb[..., c].astype(np.float64), k, mode="valid")))


def test_filter_figure_writes_a_figure_for_one_kernel(tmp_path):
    from PIL import Image

    src = tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(1).random((12, 12)) * 255).astype(np.uint8)).save(src)
    plain, fig = tmp_path / "plain.png", tmp_path / "fig.png"
    assert main(["filter", str(src), "-k", "box:3", "-o", str(plain), "-q"]) == 0
    assert main(["filter", str(src), "-k", "box:3", "--figure", "-o", str(fig), "-q"]) == 0
    assert Image.open(plain).size == (12, 12)  # the filtered picture itself
    assert Image.open(fig).size[0] > 100  # a matplotlib figure with the input and the response


BENCH_DEFAULTS = {"quick": False, "models": None, "threads": None, "repeats": None, "batch": None, "memory": True,
                  "conv": True, "scaling": True, "use_torch": None}


@pytest.mark.parametrize("flags, changed", [
    ([], {}),
    (["--quick"], {"quick": True}),
    (["--no-torch"], {"use_torch": False}),
    (["--no-memory", "--no-conv", "--no-scaling"], {"memory": False, "conv": False, "scaling": False}),
    (["--models", "lenet5,resnet20", "--threads", "2", "--repeats", "3", "--batch", "16"],
     {"models": ["lenet5", "resnet20"], "threads": 2, "repeats": 3, "batch": 16}),
], ids=str)
def test_bench_flags_reach_bench_run(monkeypatch, capsys, tmp_path, flags, changed):
    """Each flag of ``convlab bench`` becomes its argument of ``bench.run`` (the measuring itself is
    tests/test_bench.py's); --json writes the result."""
    from convlab import bench

    calls = []
    monkeypatch.setattr(bench, "run", lambda **kw: calls.append(kw) or {"stub": True})
    monkeypatch.setattr(bench, "format_markdown", lambda result: "table")
    out = tmp_path / "b.json"
    assert main(["bench", *flags, "--json", str(out), "-q"]) == 0
    assert len(calls) == 1
    assert {k: v for k, v in calls[0].items() if k != "log"} == {**BENCH_DEFAULTS, **changed}
    assert calls[0]["log"] is None  # -q: no progress lines
    assert json.loads(out.read_text()) == {"stub": True} and "table" in capsys.readouterr().out


def test_demo_init_chooses_the_edge_kernels_start(capsys):
    """``demo edge-kernel --init random`` starts from a random kernel, the default from the seed's."""
    starts = {}
    for init in (None, "seed", "random"):
        flags = ["--init", init] if init else []
        assert main(["demo", "edge-kernel", *flags, "--epochs", "1", "--no-figures"]) == 0
        line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("initial kernel"))
        starts[init] = line
    assert starts[None] == starts["seed"] and "(seed)" in starts["seed"]
    assert "(random)" in starts["random"] and starts["random"].split(":")[1] != starts["seed"].split(":")[1]


def test_inspect_all_kernels_and_invert(lines_run, tmp_path, capsys):
    """--all-kernels draws every convolution's kernels (one figure each), the default only the first;
    --invert makes the prediction that of the inverted picture."""
    rng = np.random.default_rng(2)
    img = (rng.random((8, 8)) * 255).astype(np.uint8)
    pic, inv = _picture(tmp_path / "a.png", img), _picture(tmp_path / "b.png", 255 - img)

    def run(*flags):
        out = tmp_path / f"i{len(list(tmp_path.iterdir()))}"
        assert main(["inspect", str(lines_run), *flags, "--out", str(out)]) == 0
        text = capsys.readouterr().out
        return sorted(p.name for p in out.glob("kernels_*.png")), next(ln for ln in text.splitlines()
                                                                        if ln.startswith("prediction:"))

    first, plain = run("--image", pic)
    every, flagged = run("--image", pic, "--all-kernels", "--invert")
    _, inverted = run("--image", inv)
    assert first == ["kernels_conv1.png"]
    assert every == ["kernels_conv1.png", "kernels_conv2.png"]
    assert flagged == inverted != plain


def test_mean_and_std_normalise_every_batch(built):
    """--mean/--std: the batches are (x - mean) / std of the unnormalised pixels, and the run records them."""
    raw = next(iter(built("--no-normalize", "--schedule", "none")["train_loader"]))[0].numpy()
    seen = built("--mean", "0.25", "--std", "0.5", "--schedule", "none")
    got = next(iter(seen["train_loader"]))[0].numpy()
    np.testing.assert_allclose(got, (raw - 0.25) / 0.5, rtol=1e-6, atol=1e-6)
    assert seen["config"]["mean"] == [0.25] and seen["config"]["std"] == [0.5]
    assert seen["config"]["preprocessing"]["mean"] == [0.25] and seen["config"]["preprocessing"]["std"] == [0.5]


def test_debug_shows_the_traceback(tmp_path, capsys):
    """Without --debug an error is one line and exit 1; with it the exception propagates, so Python
    prints its traceback (any command: add_common)."""
    missing = str(tmp_path / "none.safetensors")
    for command in (["evaluate", missing], ["predict", missing, missing], ["inspect", missing]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "does not exist" in err, err
        with pytest.raises(FileNotFoundError, match="does not exist"):
            main([*command, "--debug"])


# flags no test names yet, each with the reason (the list may only shrink)
UNNAMED = {
    ("evaluate", "--resize"), ("evaluate", "--mean"), ("evaluate", "--std"),  # fallbacks for checkpoints without
    ("predict", "--resize"), ("predict", "--mean"), ("predict", "--std"),  # preprocessing (tests/test_own_images.py
    ("train", "--resize"),  # covers the recorded spec); resize needs pictures of mixed sizes (folder datasets)
    ("export", "--resize"),  # the same fallback, for checkpoints without preprocessing
    ("explore", "--host"),  # binds a server; tests/explore uses the loopback default
}


def test_every_flag_of_every_command_is_named_by_a_test():
    """A guard for flags added later: each option string appears, quoted, in some test (or in UNNAMED)."""
    import argparse
    import pathlib
    import re

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = "\n".join(f.read_text() for f in pathlib.Path(__file__).parent.rglob("*.py") if f.name != "test_cli_flags.py"
                     ) + pathlib.Path(__file__).read_text().split("# flags no test names yet")[0]
    missing = set()
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.option_strings and not isinstance(action, argparse._HelpAction):
                if not any(re.search(r"[\"']" + re.escape(o) + r"[\"'\s=]", text) for o in action.option_strings):
                    missing.add((name, action.option_strings[-1]))
    assert missing <= UNNAMED, sorted(missing - UNNAMED)
    assert len(sub.choices) >= 11
