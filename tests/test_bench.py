"""convlab.bench / `convlab bench`: the structure of the result on a tiny configuration.

No timing is asserted (the machine may be busy): only that every section is present, the
numbers are positive and finite, and the ratios are computed from the same run's timings.
"""

import json
import math
import subprocess
import sys

import pytest

from convlab import bench
from convlab.cli import main
from helpers import require_torch

TINY = dict(models=["lenet5"], batch=2, repeats=1, warmup=0, inference_batches=(1, 2), threads=1,
            conv=False, seed_loops=True)


def _positive(x):
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_importing_convlab_bench_does_not_import_torch():
    code = "import sys, convlab, convlab.bench, convlab.commands.bench; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tiny_run_has_every_section_and_is_json():
    require_torch()
    result = json.loads(json.dumps(bench.run(**TINY, memory=True)))
    assert set(result) >= {"machine", "config", "gemm", "training", "inference", "memory", "seed_loops", "notes"}
    assert result["machine"]["threads"] == 1 and result["machine"]["torch"]
    assert _positive(result["gemm"]["gflops"])
    (train,) = result["training"]
    assert train["model"] == "lenet5" and train["batch"] == 2 and train["input"] == [1, 28, 28]
    assert train["target"] == 1.0 and isinstance(train["meets_target"], bool)
    for key in ("convlab_ips", "torch_ips", "convlab_ms", "torch_ms", "ratio"):
        assert _positive(train[key]), key
    assert train["ratio"] == pytest.approx(train["convlab_ms"] / train["torch_ms"])
    assert [r["batch"] for r in result["inference"]] == [1, 2]
    for r in result["inference"]:
        assert r["kind"] == "infer" and _positive(r["convlab_ips"]) and _positive(r["torch_ips"])
    # issue 17's inference targets: 1.2x for one picture, 1.0x for a batch; the verdict follows the ratio
    assert [r["target"] for r in result["inference"]] == [1.2, 1.0]
    assert [r["meets_target"] for r in result["inference"]] == [r["ratio"] <= r["target"] for r in result["inference"]]
    (mem,) = result["memory"]
    assert mem["model"] == "lenet5" and mem["target"] == 1.0
    for lib in ("convlab", "torch"):
        assert _positive(mem[lib]["peak_mb"]) and mem[lib]["peak_mb"] >= mem[lib]["rss_before_mb"] > 0
    assert mem["ratio"] == pytest.approx(mem["convlab"]["peak_mb"] / mem["torch"]["peak_mb"])
    assert _positive(result["seed_loops"]["speedup"])
    table = bench.format_markdown(result)
    assert "| lenet5 | 1x28x28 | 2 |" in table and "peak memory" in table


def test_without_torch_the_torch_columns_are_empty():
    result = bench.run(**TINY, memory=False, use_torch=False)
    assert result["training"][0]["torch_ips"] is None and result["training"][0]["ratio"] is None
    assert any("torch" in note for note in result["notes"])
    assert "| - |" in bench.format_markdown(result)


def test_cli_writes_json(tmp_path, capsys):
    require_torch()
    out = tmp_path / "b.json"
    code = main(["bench", "--models", "lenet5", "--batch", "2", "--repeats", "1", "--threads", "1",
                 "--no-memory", "--no-conv", "--json", str(out), "-q"])
    assert code == 0
    assert "| training step (" in capsys.readouterr().out
    assert json.loads(out.read_text())["training"][0]["model"] == "lenet5"


@pytest.mark.parametrize("argv", [["--models", "nope"], ["--threads", "0"], ["--repeats", "-1"]])
def test_cli_rejects_bad_arguments(argv, capsys):
    assert main(["bench", *argv]) == 2
    assert "convlab bench:" in capsys.readouterr().err


def test_a_run_restores_the_callers_thread_counts():
    """bench.run sets both libraries to --threads while it runs; a program (or test) that calls it keeps its own
    BLAS thread count afterwards, so its numerics do not change behind its back."""
    before = bench.blas_threads()
    if before is None:
        pytest.skip("this NumPy's BLAS cannot be asked its thread count")
    other = 1 if before != 1 else 2
    bench.run(**{**TINY, "threads": other}, memory=False)
    assert bench.blas_threads() == before


def test_amdahl_and_the_never_slower_check_on_hand_made_rows():
    """p from t1 = 10, t2 = 6: 1 - 6/10 = 0.4 = p (1 - 1/2) -> p = 0.8; 16 cores: 10 (0.2 + 0.8/16) = 2.5 ms.
    A row 1.04x its 1-thread time passes (5% noise allowed), one 1.06x fails, and so do conv layers."""
    from convlab.bench import scaling

    p, est = scaling.amdahl([1, 2], {1: 10.0, 2: 6.0})
    assert p == pytest.approx(0.8) and est == pytest.approx(2.5)
    assert scaling.amdahl([1, 2], {1: 10.0, 2: 12.0})[0] == 0.0  # slower: no parallel fraction
    assert scaling.thread_counts(1) == [1] and scaling.thread_counts(6) == [1, 2, 4, 6]
    rows = {"rows": [{"kind": "train", "model": "a", "batch": 8, "worst_vs_one": 1.04}]}
    assert scaling.never_slower(rows)["ok"]
    rows["rows"].append({"kind": "infer", "model": "b", "batch": 1, "worst_vs_one": 1.06})
    check = scaling.never_slower(rows)
    assert not check["ok"] and check["slower"] == [{"what": "infer b batch 1", "ratio": 1.06}]
    conv = [{"layer": "c", "convlab_fwd_ms": 1.0, "convlab_fwdbwd_ms": 3.3}]
    one = [{"layer": "c", "convlab_fwd_ms": 1.0, "convlab_fwdbwd_ms": 3.0}]
    check = scaling.never_slower({"rows": []}, conv, one)
    assert check["checked"] == 2 and [b["what"] for b in check["slower"]] == ["conv c fwdbwd"]


def test_scaling_rows_time_every_count_and_the_peak_is_measured():
    rows = bench.scaling_rows(["lenet5"], 2, repeats=1, warmup=0, inference_batches=(1,))
    assert rows["threads"] == [1, 2] and [(r["kind"], r["batch"]) for r in rows["rows"]] == [("train", 128), ("infer", 1)]
    for r in rows["rows"]:
        assert all(_positive(ms) for ms in r["ms"]) and r["efficiency"][0] == 1.0
        assert r["worst_vs_one"] == pytest.approx(max(ms / r["ms"][0] for ms in r["ms"]))
    peak = bench.fma_peak(1, repeats=1, iterations=10_000)
    if peak is not None:  # built, x86 with FMA
        assert peak["width"] in (256, 512) and _positive(peak["gflops"])


def test_conv_layer_rows_feed_the_never_slower_check():
    """convlab alone on a layer at 1 and 2 threads (forward, forward+backward), and the check
    reads them: a hand-made row 1.2x slower on 2 threads fails it, the measured one is reported."""
    from convlab.bench import scaling

    rows = scaling.conv_layer_rows({"tiny": ((2, 3, 8, 8), (4, 3, 3, 3), {"padding": 1})}, 2, repeats=1)
    (row,) = rows
    assert row["layer"] == "tiny" and row["threads"] == [1, 2]
    assert all(_positive(v) for v in row["fwd_ms"] + row["fwdbwd_ms"])
    check = scaling.never_slower({"rows": []}, conv_scaling=rows)
    assert check["checked"] == 2 and check["worst"]["what"].startswith("conv tiny")
    slow = [{"layer": "slow", "threads": [1, 2], "fwd_ms": [1.0, 1.2], "fwdbwd_ms": [3.0, 3.0]}]
    check = scaling.never_slower({"rows": []}, conv_scaling=slow)
    assert not check["ok"] and check["slower"] == [{"what": "conv slow fwd", "ratio": pytest.approx(1.2)}]
