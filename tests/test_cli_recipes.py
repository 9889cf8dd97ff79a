"""``convlab train --recipe NAME`` and the flags of the training techniques (--flip, --ema, --tta,
--bn-momentum, --width, --schedule linear): each reaches what it names.

Most tests stop the command where training would begin (as tests/test_cli_flags.py does) and look
at what it built; two train for a few steps on the synthetic lines data and check the test accuracy
the command reports against an independent evaluation of the checkpoint it wrote.
"""

import json

import numpy as np
import pytest

from convlab import models, nn
from convlab.cli import build_parser, main
from convlab.data import DataLoader, RandomHorizontalFlip
from convlab.optim import lr_scheduler as S
from convlab.train import evaluate, load_checkpoint, loop, model_from_checkpoint, recipes
from convlab.train.run import load_run_data
from convlab.train.tta import FlipTTA

TINY = ["--dataset", "lines", "--limit-train", "48", "--limit-test", "16", "-q"]


class Stop(Exception):
    pass


@pytest.fixture
def built(monkeypatch, tmp_path):
    """``run(*flags)`` -> the trainer, loaders, epochs and config.json of ``convlab train TINY *flags``, stopped at fit."""

    def run(*flags, tiny=TINY):
        seen = {}

        def record(self, train_loader, val_loader=None, epochs=1, resume=None, max_steps=None):
            seen.update(trainer=self, train_loader=train_loader, val_loader=val_loader, epochs=epochs,
                        config=json.loads((out / "config.json").read_text()))
            raise Stop

        monkeypatch.setattr(loop.Trainer, "fit", record)
        out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        assert main(["train", *tiny, "--out", str(out), *flags]) == 1
        return seen

    return run


def _transforms(loader):
    """The transforms in the training loader's dataset transform (through Subset and Compose)."""
    ds = loader.dataset
    while not hasattr(ds, "transform"):
        ds = ds.dataset
    found, todo = [], [ds.transform]
    while todo:
        t = todo.pop()
        found.append(t)
        todo += list(getattr(t, "transforms", []) or []) + list(getattr(t, "augment", []) or [])
    return [type(t).__name__ for t in found]


def test_a_recipe_sets_its_values_and_written_flags_override_them(built):
    fast = recipes.recipe("fast")
    seen = built("--recipe", "fast", "--limit-train", "48", tiny=["--dataset", "lines", "--limit-test", "16", "-q"])
    cfg, trainer = seen["config"], seen["trainer"]
    assert cfg["recipe"] == "fast" and cfg["epochs"] == fast["epochs"] == seen["epochs"]
    assert trainer.loss_fn.label_smoothing == fast["label_smoothing"] == cfg["label_smoothing"]
    assert trainer.ema is None and fast["ema"] == cfg["ema"] == 0
    assert cfg["tta"] is True and cfg["augment"] is False and cfg["flip"] is True and cfg["val_split"] == 0
    assert seen["val_loader"] is None  # --val-split 0: all training images are trained on

    over = built("--recipe", "fast", "--epochs", "2", "--ema", "0.99", "--label-smoothing", "0.2", "--no-tta")
    assert over["epochs"] == 2 == over["config"]["epochs"]
    assert over["trainer"].ema.decay == 0.99 and over["trainer"].loss_fn.label_smoothing == 0.2
    assert over["config"]["tta"] is False and over["config"]["flip"] is True  # the rest still the recipe's
    assert over["config"]["lr"] == fast["lr"] and over["config"]["schedule"] == fast["schedule"]


def test_without_a_recipe_the_flags_defaults_are_the_default_recipe(built):
    cfg = built()["config"]
    assert cfg["recipe"] is None
    for key, value in recipes.recipe("default").items():
        if key not in ("dataset", "epochs", "val_split"):  # TINY chooses the lines dataset; epochs below
            assert cfg[key] == value, key
    assert recipes.recipe("default")["epochs"] == recipes.DEFAULT["epochs"] == 7


def test_an_unknown_recipe_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["train", "--recipe", "fastest"])
    assert exc.value.code == 2 and "invalid choice: 'fastest'" in capsys.readouterr().err


def test_recipes_are_listed_by_models_and_in_the_help(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "recipes (convlab train --recipe NAME" in out
    for name in recipes.RECIPES:
        assert f"\n{name} " in out and recipes.describe(name) in out
    help_text = build_parser()._actions[-1].choices["train"].format_help()
    assert all(f"{name}:" in help_text for name in recipes.RECIPES)


def test_flip_flags_choose_the_mirroring(built):
    """lines cannot be mirrored (its labels are orientations), so --augment alone crops only; --flip adds
    mirroring, with or without --augment; --no-flip removes it from a mirroring recipe."""
    assert "RandomHorizontalFlip" not in _transforms(built("--augment")["train_loader"])
    assert "RandomCrop" in _transforms(built("--augment")["train_loader"])
    assert "RandomHorizontalFlip" in _transforms(built("--flip")["train_loader"])
    assert "RandomCrop" not in _transforms(built("--flip")["train_loader"])
    assert "RandomHorizontalFlip" not in _transforms(built("--recipe", "fast", "--no-flip")["train_loader"])
    fast = _transforms(built("--recipe", "fast")["train_loader"])  # the fast recipe mirrors and never crops
    assert "RandomHorizontalFlip" in fast and "RandomCrop" not in fast
    neither = _transforms(built("--recipe", "fast", "--no-flip")["train_loader"])
    assert "RandomCrop" not in neither and "RandomHorizontalFlip" not in neither
    both = _transforms(built("--recipe", "fast", "--augment")["train_loader"])
    assert "RandomCrop" in both and "RandomHorizontalFlip" in both


def test_flip_mirrors_whole_training_pictures():
    """Each row of a --flip batch is its picture or that picture mirrored left-right, and both occur."""
    flip = RandomHorizontalFlip(seed=0)
    x = np.random.default_rng(0).standard_normal((64, 1, 3, 4)).astype(np.float32)
    y = flip(x)
    same = (y == x).all(axis=(1, 2, 3))
    mirrored = (y == x[..., ::-1]).all(axis=(1, 2, 3))
    assert (same | mirrored).all() and same.any() and mirrored.any()


def test_width_and_bn_momentum_reach_the_model(built, capsys):
    model = built("--width", "8", "--bn-momentum", "0.3")["trainer"].model
    assert model.conv1.out_channels == 8 and model.conv2.out_channels == 16
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(m.momentum == 0.3 for m in bns)
    assert main(["train", *TINY, "--model", "lenet5", "--width", "8", "--out", "never"]) == 2
    assert "model lenet5 has no width" in capsys.readouterr().err


def test_linear_schedule_rises_and_falls_in_straight_lines(built):
    # 48 images in batches of 5: 10 steps an epoch, 40 in all; the peak at step 0.3 * 40 - 1 = 11
    seen = built("--schedule", "linear", "--lr", "0.01", "--epochs", "4", "--batch-size", "5")
    trainer, sched = seen["trainer"], seen["trainer"].scheduler
    assert type(sched) is S.OneCycleLR and sched.total_steps == 40 == 4 * len(seen["train_loader"])
    lrs = []
    for _ in range(sched.total_steps):
        lrs.append(trainer.optimizer.param_groups[0]["lr"])
        sched.step()
    lrs = np.array(lrs)
    peak = int(np.argmax(lrs))
    assert peak == 11 and lrs[peak] == pytest.approx(0.01) and lrs[0] == pytest.approx(0.01 / 25)
    # straight lines: constant differences on each side of the peak (cosine's would change)
    rise, fall = np.diff(lrs[: peak + 1]), np.diff(lrs[peak:])
    np.testing.assert_allclose(rise, rise[0], rtol=1e-6)
    np.testing.assert_allclose(fall, fall[0], rtol=1e-6)


QUICK = ["--dataset", "lines", "--epochs", "2", "--batch-size", "32", "--limit-train", "128", "--limit-test", "100",
         "--val-split", "0", "-q"]


def _reported(capsys) -> float:
    return float(capsys.readouterr().out.split("test accuracy")[1].split("%")[0])


def test_tta_and_ema_runs_report_the_accuracy_of_the_saved_averaged_weights_with_mirrors(tmp_path, capsys):
    """A --ema --tta --flip run's test metrics are those of the checkpoint's "model" (the average)
    evaluated through FlipTTA: its test loss (a continuous number, unlike the accuracy on these easy
    lines) matches that evaluation and none of the other three (training weights, or no mirrors)."""
    out = tmp_path / "r"
    assert main(["train", *QUICK, "--flip", "--ema", "0.9", "--tta", "--out", str(out)]) == 0
    printed = _reported(capsys)
    ckpt = load_checkpoint(out / "last.safetensors")
    cfg = json.loads((out / "config.json").read_text())
    _, _, test_ds, _, _ = load_run_data(cfg)  # the run's own test images, rebuilt from its configuration
    loader = DataLoader(test_ds, 32)
    averaged = model_from_checkpoint(ckpt)
    trained = models.get(ckpt["model_spec"]["name"], **ckpt["model_spec"]["kwargs"])
    trained.load_state_dict(ckpt["training_model"])
    trained.eval()
    got = {name: evaluate(m, loader) for name, m in (("ema+tta", FlipTTA(averaged)), ("ema", averaged),
                                                     ("raw+tta", FlipTTA(trained)), ("raw", trained))}
    reported = json.loads((out / "test.json").read_text())
    assert reported["loss"] == pytest.approx(got["ema+tta"]["loss"], rel=1e-6)
    assert printed == pytest.approx(100 * got["ema+tta"]["accuracy"], abs=0.005)
    for other in ("ema", "raw+tta", "raw"):
        assert abs(got[other]["loss"] - reported["loss"]) > 1e-4, other


def test_evaluate_tests_a_tta_run_as_train_did_and_no_tta_gives_the_plain_model(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", *QUICK, "--flip", "--tta", "--out", str(out)]) == 0
    capsys.readouterr()
    reported = json.loads((out / "test.json").read_text())
    ev = {}
    for flag in ("", "--tta", "--no-tta"):
        assert main(["evaluate", str(out), "--limit", "100", "--out", str(tmp_path / f"e{flag}"),
                     *([flag] if flag else [])]) == 0
        ev[flag] = json.loads((tmp_path / f"e{flag}" / "metrics.json").read_text())
    assert ev[""]["loss"] == pytest.approx(reported["loss"], rel=1e-6) == ev["--tta"]["loss"]
    assert abs(ev["--no-tta"]["loss"] - reported["loss"]) > 1e-4
    assert "flip test-time augmentation" in capsys.readouterr().out
