"""Soak run: many training steps of a small model, watching the process's resident memory.

    python benchmarks/soak.py                                   # 10,000 steps of lenet5, batch 16, a sample every 500
    python benchmarks/soak.py --json soak.json --plot soak.png  # also write the samples and a plot
    python benchmarks/soak.py --steps 300 --every 100 --warmup 100   # a smoke run (seconds)

What runs is convlab's own training loop, :class:`convlab.train.Trainer`, as ``convlab train``
drives it: a shuffling, prefetching ``DataLoader`` with random-crop augmentation, AdamW with a
one-cycle schedule stepped every batch, the per-step snapshot and gradient guard, the metric
meter, a step record in ``metrics.jsonl`` every 20 steps, and at every epoch end a validation
pass and the ``last``/``best`` checkpoints (``--epoch-steps`` steps an epoch). The data are
synthetic 28x28 images, ten classes, each a fixed random template plus noise, so the loss falls.

Every ``--every`` steps the script records the resident set size (``/proc/self/statm``; where
that is missing, the peak from ``getrusage``), the training rate since the previous sample, and
the number of Python objects the garbage collector tracks and of live ``Tensor`` objects among
them: a leaked autograd graph or buffer shows as a rising tensor count long before it shows in
RSS. It prints the table and, with ``--json``, writes it.

The verdict: resident memory after warm-up must not grow. It compares the last sample with the
sample at ``--warmup`` steps (default 1,000: the first epochs, allocator caches and the first
checkpoints are behind) and exits 1 if the growth exceeds ``--max-growth-mib`` (default 8 MiB;
a leaked lenet5 graph at batch 16 holds about 0.5 MiB, so one leak per step would pass 8 MiB in
a few dozen steps, and one leaked KiB per step in 9,000 steps would too). ``--leak-kib-per-step``
deliberately keeps that much memory per step, to show that the check catches a leak.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

MIB = 1 << 20


def rss_bytes() -> tuple[int, str]:
    """``(bytes, source)``: the current resident set size, or the peak where only that is known."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"), "statm"
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak * (1 if sys.platform == "darwin" else 1024), "ru_maxrss (peak)"


def live_objects() -> tuple[int, int]:
    """``(objects tracked by the garbage collector, live convlab Tensors among them)``."""
    from convlab import Tensor

    objects = gc.get_objects()
    return len(objects), sum(1 for o in objects if issubclass(type(o), Tensor))  # type(): no __getattr__ hooks


def synthetic(n: int, seed: int, split: int = 0, classes: int = 10, size: int = 28):
    """``(images float32 (n, 1, size, size), labels int64 (n,))``: the class templates of ``seed`` plus
    noise; ``split`` draws other images (and labels) of the same classes."""
    templates = np.random.default_rng([seed, 0]).normal(0.0, 1.0, (classes, 1, size, size)).astype(np.float32)
    rng = np.random.default_rng([seed, 1, split])
    labels = rng.integers(0, classes, n)
    noise = rng.normal(0.0, 1.5, (n, 1, size, size)).astype(np.float32)
    return noise + templates[labels], labels.astype(np.int64)


class SampledLoader:
    """A DataLoader that calls ``sample(step)`` each time ``every`` more batches have been trained on.

    The trainer asks for the next batch only after it finished the step of the previous one, so
    the count when the generator resumes is the number of completed steps.
    """

    def __init__(self, loader, every: int, sample, leak_bytes: int = 0):
        self.loader, self.every, self.sample = loader, every, sample
        self.steps, self.leak_bytes, self.leaked = 0, leak_bytes, []

    seed = property(lambda self: self.loader.seed, lambda self, value: setattr(self.loader, "seed", value))

    def __len__(self):
        return len(self.loader)

    def set_epoch(self, epoch, start_batch=0):
        self.loader.set_epoch(epoch, start_batch)

    def __getattr__(self, name):  # anything else the trainer asks of its loader
        return getattr(self.loader, name)

    def __iter__(self):
        for batch in self.loader:
            yield batch
            self.steps += 1
            if self.leak_bytes:
                self.leaked.append(np.full(self.leak_bytes // 8, 1.0))  # written, so resident
            if self.steps % self.every == 0:
                self.sample(self.steps)


def growth_verdict(samples: list[dict], warmup: int, max_growth_mib: float) -> dict:
    """Compare the last sample's RSS with the one at ``warmup`` steps (the first sample at or after it)."""
    base = next((s for s in samples if s["step"] >= warmup), None)
    last = samples[-1] if samples else None
    if base is None or last is None or last["step"] <= base["step"]:
        return {"warmup_step": None, "growth_mib": None, "ok": None,
                "reason": f"no samples after the warm-up of {warmup} steps to compare"}
    after = [s for s in samples if s["step"] >= base["step"]]
    growth = last["rss_mib"] - base["rss_mib"]
    steps = np.array([s["step"] for s in after], float)
    rss = np.array([s["rss_mib"] for s in after], float)
    slope = float(np.polyfit(steps, rss, 1)[0] * 1000) if len(after) >= 3 else None
    ok = growth <= max_growth_mib
    return {"warmup_step": base["step"], "rss_at_warmup_mib": base["rss_mib"], "rss_at_end_mib": last["rss_mib"],
            "growth_mib": growth, "max_after_warmup_mib": float(rss.max()), "slope_mib_per_1000_steps": slope,
            "tensor_growth": last["tensors"] - base["tensors"], "max_growth_mib": max_growth_mib, "ok": ok,
            "reason": f"RSS grew {growth:+.2f} MiB from step {base['step']} to step {last['step']} "
                      f"(limit {max_growth_mib:g} MiB)"}


def run(args) -> dict:
    import convlab
    from convlab import models
    from convlab.data import ArrayDataset, DataLoader
    from convlab.data.transforms import RandomCrop
    from convlab.train import Trainer
    from convlab.train.recipes import build_optimizer, build_scheduler

    convlab.manual_seed(args.seed)
    np.random.seed(args.seed)
    images, labels = synthetic(args.batch_size * args.epoch_steps, args.seed)
    val_images, val_labels = synthetic(args.val_size, args.seed, split=1)
    train_ds = ArrayDataset(images, labels, transform=RandomCrop(28, padding=2, seed=args.seed))
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    val_loader = DataLoader(ArrayDataset(val_images, val_labels), batch_size=256)
    model = models.get(args.model)
    epochs = -(-args.steps // len(loader))
    optimizer = build_optimizer("adamw", model.parameters(), args.lr, 5e-4)
    scheduler = build_scheduler("onecycle", optimizer, args.lr, epochs, len(loader))

    samples: list[dict] = []
    clock = {"t": time.perf_counter(), "step": 0, "start": time.perf_counter()}

    def sample(step: int) -> None:
        now = time.perf_counter()
        rate = (step - clock["step"]) / max(now - clock["t"], 1e-9)
        rss, source = rss_bytes()
        objects, tensors = live_objects()
        samples.append({"step": step, "rss_mib": rss / MIB, "steps_per_second": rate, "objects": objects,
                        "tensors": tensors, "seconds": now - clock["start"], "rss_source": source})
        if not args.quiet:
            print(_row(samples[-1]), flush=True)
        clock["t"], clock["step"] = time.perf_counter(), step  # the sampling itself is not training time

    sampled = SampledLoader(loader, args.every, sample, leak_bytes=int(args.leak_kib_per_step * 1024))
    if not args.quiet:
        print(f"soak: {args.model}, batch {args.batch_size}, {args.steps:,} steps ({epochs} epochs of {len(loader)}), "
              f"a sample every {args.every} steps; warm-up {args.warmup} steps, limit {args.max_growth_mib:g} MiB")
        print(_header())
    with tempfile.TemporaryDirectory(prefix="convlab-soak-") as out:
        sample(0)
        trainer = Trainer(model, optimizer, scheduler=scheduler, out_dir=args.out or out, progress=False, print_fn=None,
                          plot=False, model_spec={"name": args.model, "kwargs": {}})
        # max_steps ends a run before its epoch's end (no epoch record): only when --steps is not whole epochs
        max_steps = args.steps if args.steps % len(loader) else None
        result = trainer.fit(sampled, val_loader, epochs=epochs, max_steps=max_steps)
        if samples[-1]["step"] != result.step:  # the last step ends the run without asking for another batch
            sample(result.step)
    verdict = growth_verdict(samples, args.warmup, args.max_growth_mib)
    history = result.history
    return {"command": "python benchmarks/soak.py " + " ".join(args.argv),
            "config": {k: v for k, v in vars(args).items() if k not in ("argv", "json", "plot", "quiet")},
            "steps_done": result.step, "epochs": epochs, "steps_per_epoch": len(loader),
            "final_train_loss": history[-1]["train_loss"] if history else None,
            "final_val_accuracy": history[-1].get("val_accuracy") if history else None,
            "seconds": time.perf_counter() - clock["start"], "samples": samples, "verdict": verdict}


def _header() -> str:
    return f"{'step':>7} {'RSS MiB':>9} {'steps/s':>8} {'gc objects':>11} {'tensors':>8}"


def _row(s: dict) -> str:
    rate = f"{s['steps_per_second']:8.1f}" if s["step"] else f"{'-':>8}"
    return f"{s['step']:>7,} {s['rss_mib']:>9.1f} {rate} {s['objects']:>11,} {s['tensors']:>8,}"


def plot(report: dict, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    s = report["samples"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([x["step"] for x in s], [x["rss_mib"] for x in s], "o-", label="resident memory")
    v = report["verdict"]
    if v.get("warmup_step") is not None:
        ax.axvline(v["warmup_step"], color="0.6", ls="--", label="end of warm-up")
        ax.axhline(v["rss_at_warmup_mib"] + v["max_growth_mib"], color="tab:red", ls=":", label="limit")
    ax.set(xlabel="training step", ylabel="RSS (MiB)", title=f"soak: {report['config']['model']}, "
           f"batch {report['config']['batch_size']}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--steps", type=int, default=10_000, help="training steps in all (default: 10000)")
    p.add_argument("--every", type=int, default=500, help="sample memory every this many steps (default: 500)")
    p.add_argument("--batch-size", type=int, default=16, help="(default: 16)")
    p.add_argument("--epoch-steps", type=int, default=500, help="steps an epoch; each epoch end validates and "
                   "writes checkpoints (default: 500)")
    p.add_argument("--val-size", type=int, default=512, help="validation images, checked every epoch (default: 512)")
    p.add_argument("--warmup", type=int, default=1000, help="compare the end with the sample at this step (default: 1000)")
    p.add_argument("--max-growth-mib", type=float, default=8.0, help="allowed RSS growth after warm-up (default: 8)")
    p.add_argument("--model", default="lenet5", help="a 1x28x28, 10-class model of the zoo (default: lenet5)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default: 0.003)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="keep the run's checkpoints and log here (default: a temporary directory)")
    p.add_argument("--json", default=None, metavar="PATH", help="write the samples and the verdict as JSON")
    p.add_argument("--plot", default=None, metavar="PATH", help="plot RSS against steps (PNG, needs matplotlib)")
    p.add_argument("--leak-kib-per-step", type=float, default=0.0, help=argparse.SUPPRESS)  # to test the check
    p.add_argument("-q", "--quiet", action="store_true", help="print only the verdict")
    args = p.parse_args(argv)
    for name in ("steps", "every", "batch_size", "epoch_steps", "val_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def main(argv=None) -> int:
    args = parse(argv)
    report = run(args)
    v = report["verdict"]
    if args.json:
        from convlab.files import write_json

        write_json(args.json, report, indent=1)
    if args.plot:
        plot(report, args.plot)
    status = "no result" if v["ok"] is None else "ok" if v["ok"] else "FAIL"
    loss = report["final_train_loss"]
    print(f"soak {status}: {v['reason']}; {report['steps_done']:,} steps in {report['seconds']:.0f} s"
          + (f", last epoch's train loss {loss:.4f}, validation accuracy {100 * report['final_val_accuracy']:.1f}%"
             if loss is not None else ""))
    return 0 if v["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
