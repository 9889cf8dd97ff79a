"""``convlab explore`` as a user runs it: usage errors, the printed URL, loopback only, Ctrl-C."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from convlab.cli import main


def test_usage_errors(tmp_path, capsys):
    assert main(["explore", str(tmp_path / "missing")]) == 2
    assert "no such checkpoint or run folder" in capsys.readouterr().err
    assert main(["explore", str(tmp_path), "--port", "70000"]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["explore", str(empty)]) == 1
    assert "neither a checkpoint nor a run folder" in capsys.readouterr().err


def test_serves_on_loopback_and_stops_cleanly_on_ctrl_c(run_dir):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "convlab.cli", "explore", run_dir], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert url, line
        with urllib.request.urlopen(url.group(0) + "api/info", timeout=30) as r:
            assert json.load(r)["title"] == "compactcnn on lines"
        events = urllib.request.urlopen(url.group(0) + "api/run/events", timeout=30)  # an open stream must not block the stop
        assert events.readline().startswith(b"retry:")
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 10
        assert "Traceback" not in proc.stderr.read()
        events.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_host_is_only_changed_when_asked():
    import argparse

    from convlab.commands.explore import register

    sub = argparse.ArgumentParser().add_subparsers()
    args = register(sub).parse_args(["run"])
    assert args.host == "127.0.0.1" and args.port == 0 and not args.open


@pytest.mark.parametrize("flag", ["--live"])
def test_train_has_live(flag):
    from convlab.cli import build_parser

    args = build_parser().parse_args(["train", flag])
    assert args.live is True


def test_missing_extra_is_one_line(run_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if convlab[explore] were not installed
    assert main(["explore", run_dir]) == 1
    err = capsys.readouterr().err
    assert "pip install 'convlab[explore]'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_open_opens_the_printed_url(run_dir, monkeypatch, capsys):
    import webbrowser

    from convlab.explore.server import Server

    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    monkeypatch.setattr(Server, "run", lambda self: self.sock.close())  # serve nothing: return at once
    assert main(["explore", run_dir, "--open"]) == 0
    url = re.search(r"http://127\.0\.0\.1:\d+/", capsys.readouterr().out).group(0)
    assert opened == [url]


def test_train_live_serves_the_training_model(run_dir):
    """``convlab train --live``'s server (commands/_train_run._start_live) answers with the model it is given."""
    from convlab.commands._train_run import _start_live
    from convlab.train import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(os.path.join(run_dir, "last.safetensors"))
    model = model_from_checkpoint(ckpt)

    class Trainer:
        step = 7

    server = _start_live(model, run_dir, ckpt["model_spec"], ckpt["meta"], Trainer())
    try:
        with urllib.request.urlopen(server.url + "api/run", timeout=30) as r:
            run = json.load(r)
        assert run["live"] and run["step"] == 7 and run["kernels"]["name"] == "conv1"
    finally:
        server.stop()
    assert not server.thread.is_alive()
