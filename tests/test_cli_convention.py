"""One convention for every command: -q/--no-progress everywhere, plain-word help, a closed pipe
ends quietly after the files are written, runs/<command>-NNN, and --resume's rules."""

import json
import os
import subprocess
import sys

import pytest

from convlab.cli import build_parser, main, plain

QUICK = ["--dataset", "lines", "--epochs", "1", "--batch-size", "64", "--limit-train", "256", "--limit-test", "100"]


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_command_takes_quiet_and_no_progress_and_speaks_plainly(name):
    sub = _subcommands()[name]
    options = {o for a in sub._actions for o in a.option_strings}
    assert {"-q", "--quiet", "--progress", "--no-progress"} <= options
    text = sub.format_help()
    assert "``" not in text and ":class:" not in text and ":func:" not in text, text


def test_plain_drops_restructured_text():
    assert plain(":class:`~convlab.models.CompactCNN`, the default of ``convlab train``") == \
        "CompactCNN, the default of convlab train"


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(os.path.dirname(__file__), "..", "src"),
                                                         os.environ.get("PYTHONPATH", "")])}


def test_closed_pipe_ends_quietly(tmp_path):
    """``convlab models | head -2``: exit 0, no 'Broken pipe' (the reader closed before the end)."""
    r = subprocess.run(f"{sys.executable} -m convlab.cli models | head -2", shell=True, capture_output=True, text=True,
                       env=_env(), cwd=tmp_path, timeout=120, executable="/bin/bash")
    assert r.stdout.count("\n") == 2 and r.stderr == "", r.stderr
    r = subprocess.run(f"set -o pipefail; {sys.executable} -m convlab.cli models | head -1", shell=True,
                       capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120, executable="/bin/bash")
    assert r.returncode == 0 and r.stderr == ""


def test_closed_pipe_still_writes_every_figure(tmp_path):
    import convlab

    convlab.save(convlab.models.get("lenet5"), tmp_path / "m.safetensors")
    r = subprocess.run(f"{sys.executable} -m convlab.cli inspect m.safetensors | head -1", shell=True,
                       capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=300, executable="/bin/bash")
    assert r.stderr == "", r.stderr
    names = sorted(os.listdir(tmp_path / "runs" / "inspect-001"))
    assert names == ["feature_maps.png", "im2col.png", "kernels_conv1.png", "layer_stats.png", "receptive_field.png"]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_inspect_and_demo_write_new_runs_folders_and_never_overwrite(in_tmp, capsys):
    import convlab

    convlab.save(convlab.models.get("lenet5"), in_tmp / "m.safetensors")
    assert main(["inspect", "m.safetensors", "-q"]) == 0
    assert main(["inspect", "m.safetensors", "-q"]) == 0
    out = capsys.readouterr().out.split()
    assert out[0] == os.path.join("runs", "inspect-001", "kernels_conv1.png") and len(out) == 10
    assert out[5].startswith(os.path.join("runs", "inspect-002"))
    assert main(["inspect", "m.safetensors", "--out", "runs/inspect-001"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["demo", "filters", "-q"]) == 0
    assert capsys.readouterr().out.split() == [os.path.join("runs", "demo-001", "conv_filters.png")]


def test_val_split_fraction_or_count_is_stated(in_tmp, capsys):
    assert main(["train", *QUICK, "--val-split", "0.25", "--out", "a"]) == 0
    assert "(--val-split 0.25: a fraction)" in capsys.readouterr().out
    assert main(["train", *QUICK, "--val-split", "40", "--out", "b"]) == 0
    out = capsys.readouterr().out
    assert "40 of 1,600 training images held out for validation (--val-split 40: a count)" in out
    assert main(["train", *QUICK, "--val-split", "2.0"]) == 2
    assert "a fraction between 0 and 1" in capsys.readouterr().err


def test_limit_train_limits_validation_too(in_tmp, capsys):
    assert main(["train", *QUICK, "--out", "a"]) == 0
    out = capsys.readouterr().out
    assert "validating on the first 25 of them (a tenth of --limit-train" in out
    assert main(["train", *QUICK, "--limit-val", "7", "--out", "b"]) == 0
    assert "validating on the first 7 of them" in capsys.readouterr().out


def test_resume_rules(in_tmp, capsys):
    assert main(["train", *QUICK, "--schedule", "step", "--out", "r", "-q"]) == 0
    capsys.readouterr()
    # a finished run says so, from the folder or its checkpoint
    assert main(["train", "--resume", "r"]) == 0
    assert "is finished: all 1 epoch are done" in capsys.readouterr().out
    # flags that differ from the run are listed, not ignored
    assert main(["train", "--resume", "r", "--model", "lenet5", "--lr", "0.1", "--batch-size", "32"]) == 2
    err = capsys.readouterr().err
    assert "--batch-size 32 (the run has 64)" in err and "--lr 0.1 (the run has 0.003)" in err
    assert "--model lenet5 (the run has compactcnn)" in err
    # the same values, or --epochs to extend a step schedule, are fine
    assert main(["train", "--resume", "r/last.safetensors", "--batch-size", "64", "--epochs", "2", "-q"]) == 0
    history = convlab_history(in_tmp / "r" / "last.safetensors")
    assert [h["epoch"] for h in history] == [1, 2]


def convlab_history(path):
    import convlab

    return convlab.load(path)["history"]


def test_val_data_and_test_data_folders(tmp_path, in_tmp, capsys):
    from pictures import fashion_folder

    fashion_folder(tmp_path / "tr", per_class=8, layout="flat")
    fashion_folder(tmp_path / "va", per_class=3, layout="flat")
    fashion_folder(tmp_path / "te", per_class=4, layout="flat")
    assert main(["train", "--dataset", str(tmp_path / "tr"), "--val-data", str(tmp_path / "va"), "--test-data",
                 str(tmp_path / "te"), "--epochs", "1", "--model", "lenet5", "--grayscale", "--out", "o"]) == 0
    test = json.loads((in_tmp / "o" / "test.json").read_text())
    assert test["n"] == 12
    assert "validation" in capsys.readouterr().out


def test_bench_refuses_to_overwrite_before_timing(in_tmp, capsys):
    (in_tmp / "b.json").write_text("{}")
    assert main(["bench", "--json", "b.json"]) == 2
    assert "--force" in capsys.readouterr().err and (in_tmp / "b.json").read_text() == "{}"
    assert main(["bench", "--json", "no/such/b.json"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_fixed_size_model_gets_the_image_size_hint(tmp_path, in_tmp, capsys):
    from pictures import fashion_folder

    fashion_folder(tmp_path / "f", per_class=4, layout="flat", scale_some=False)
    assert main(["train", "--dataset", str(tmp_path / "f"), "--model", "smallcnn", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "try --image-size 32,32 (the size it is designed for)" in err and "--pad 2" in err
    assert not (in_tmp / "runs").exists()  # nothing half-written
