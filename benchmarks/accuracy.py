"""Accuracy and wall time of convlab against a plain-torch twin, trained the same way.

    python benchmarks/accuracy.py                         # the `convlab train` default recipe
    python benchmarks/accuracy.py --recipe fast           # a named recipe (convlab models lists them)
    python benchmarks/accuracy.py --recipe fast --curve docs/time-to-accuracy.png
    python benchmarks/accuracy.py --model lenet5 --epochs 5
    python benchmarks/accuracy.py --limit-train 5000      # a quick look

Both frameworks train the same architecture (the torch twin is ``convlab.bench.torch_twin``,
with the same parameter names) from the same initial weights (convlab's, copied into torch), on the
same batches in the same order with the same augmentation (both read one convlab DataLoader),
with the same optimizer, learning-rate schedule, label smoothing and number of steps; with the
recipe's weight average (the same formula, ``convlab.train.ema``, written out for torch) and flip
test-time augmentation (both average the logits of each test picture and its mirror). What still
differs: dropout masks (each framework draws its own) and floating-point summation order. Flags
written on the command line override the recipe's values, as in ``convlab train``.

The script prints a markdown table: model, dataset, epochs, test accuracy and training wall time
on this machine for both, the accuracy difference and the time ratio. ``--curve PNG`` also
measures the test accuracy after every epoch (the evaluation is not counted in the time) and
plots accuracy against training seconds for both frameworks.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

TWINS = ("compactcnn", "compactcnn_deep", "lenet5")  # the 28x28 models convlab.bench.torch_twin mirrors


def torch_optim(torch, cfg, params, steps_per_epoch):
    name, lr, wd = cfg["optimizer"], cfg["lr"], cfg["weight_decay"]
    if name == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd, nesterov=True)
    elif name == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=wd)
    else:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    s, epochs = cfg["schedule"], cfg["epochs"]
    sch = torch.optim.lr_scheduler
    if s in ("onecycle", "linear"):
        return opt, sch.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch,
                                   anneal_strategy="cos" if s == "onecycle" else "linear"), "batch"
    if s == "cosine":
        return opt, sch.CosineAnnealingLR(opt, T_max=epochs), "epoch"
    if s == "step":
        return opt, sch.StepLR(opt, step_size=max(1, epochs // 3 or 1), gamma=0.1), "epoch"
    return opt, None, "epoch"


# --------------------------------------------------------------------------- the two runs
def run_convlab(cfg, model, train_loader, test_loader, num_classes, curve=None):
    """``(test accuracy, training seconds)``; with ``curve`` (a list), ``(seconds, accuracy)`` after each epoch."""
    from convlab import nn
    from convlab.train import Trainer, evaluate
    from convlab.train.ema import EMA
    from convlab.train.recipes import build_optimizer, build_scheduler
    from convlab.train.tta import FlipTTA

    opt = build_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"], cfg["weight_decay"])
    sched = build_scheduler(cfg["schedule"], opt, cfg["lr"], cfg["epochs"], len(train_loader))
    ema = EMA(model, decay=cfg["ema"]) if cfg.get("ema") else None

    def test_accuracy():
        with trainer.evaluation_weights():
            return evaluate(FlipTTA(model) if cfg.get("tta") else model, test_loader, num_classes=num_classes)["accuracy"]

    clock = {"train": 0.0}

    def on_epoch_end(trainer, record):
        clock["train"] += record["epoch_seconds"]
        if curve is not None:
            curve.append((clock["train"], test_accuracy()))

    train_loader.set_epoch(0)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg["label_smoothing"])
    trainer = Trainer(model, opt, loss_fn, scheduler=sched, print_fn=None, progress=False, ema=ema,
                      on_epoch_end=on_epoch_end)
    trainer.fit(train_loader, None, epochs=cfg["epochs"])
    return (curve[-1][1] if curve else test_accuracy()), clock["train"]


class TorchEMA:
    """convlab.train.ema.EMA's formula on a torch model's state dict (float entries averaged, others copied)."""

    def __init__(self, torch, model, decay):
        self.decay, self.updates = decay, 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def update(self, model):
        d = 0.0 if self.updates == 0 else min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in model.state_dict().items():
            if not v.dtype.is_floating_point or d == 0.0:
                self.shadow[k].copy_(v)
            else:
                self.shadow[k].add_((v.detach() - self.shadow[k]) * (1.0 - d))
        self.updates += 1


def run_torch(cfg, model, train_loader, test_loader, curve=None):
    import torch
    import torch.nn.functional as F

    opt, sched, interval = torch_optim(torch, cfg, model.parameters(), len(train_loader))
    ema = TorchEMA(torch, model, cfg["ema"]) if cfg.get("ema") else None
    if cfg.get("bn_momentum") is not None:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.momentum = cfg["bn_momentum"]

    def test_accuracy():
        trained = {k: v.clone() for k, v in model.state_dict().items()}
        if ema is not None:
            model.load_state_dict(ema.shadow)
        model.eval()
        correct = n = 0
        with torch.no_grad():
            for x, y in test_loader:
                x = torch.from_numpy(x.numpy())
                logits = model(x)
                if cfg.get("tta"):
                    logits = (logits + model(torch.flip(x, dims=[3]))) * 0.5
                correct += int((logits.argmax(1).numpy() == y.numpy()).sum())
                n += len(y)
        model.load_state_dict(trained)
        return correct / n

    train_loader.set_epoch(0)
    seconds = 0.0
    for epoch in range(cfg["epochs"]):
        train_loader.set_epoch(epoch)
        t0 = time.perf_counter()
        model.train()
        for x, y in train_loader:
            loss = F.cross_entropy(model(torch.from_numpy(x.numpy())), torch.from_numpy(y.numpy()),
                                   label_smoothing=cfg["label_smoothing"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if ema is not None:
                ema.update(model)
            if sched is not None and interval == "batch":
                sched.step()
        if sched is not None and interval == "epoch":
            sched.step()
        seconds += time.perf_counter() - t0
        if curve is not None:
            curve.append((seconds, test_accuracy()))
    return (curve[-1][1] if curve else test_accuracy()), seconds


def plot_curve(curves: dict, path: str, title: str, target: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convlab.files import save_figure_bytes

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for name, points in curves.items():
        xs, ys = zip(*points)
        ax.plot(xs, [100 * y for y in ys], marker="o", label=name)
    if target:
        ax.axhline(100 * target, color="grey", linestyle=":", label=f"target {100 * target:g}%")
    ax.set_xlabel("training wall-clock seconds (2-core machine; evaluation not counted)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    save_figure_bytes(lambda buffer: fig.savefig(buffer, format="png"), path)
    plt.close(fig)


def main(argv=None) -> int:
    from convlab.train.recipes import RECIPES, recipe

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", default="default", choices=list(RECIPES), help="the recipe (default: default)")
    p.add_argument("--model", default=None, choices=TWINS, help="a model with a 28x28 torch twin")
    p.add_argument("--dataset", default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--optimizer", default=None, choices=["sgd", "adam", "adamw"])
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--label-smoothing", type=float, default=None)
    p.add_argument("--schedule", default=None, choices=["onecycle", "linear", "cosine", "step", "none"])
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--erase", type=float, default=None)
    p.add_argument("--ema", type=float, default=None, help="weight-average decay (0: off)")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--bn-momentum", type=float, default=None)
    p.add_argument("--val-split", type=int, default=None, help="training images held out (0: train on all)")
    p.add_argument("--limit-train", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=["convlab", "torch"], default=None, help="run one side only")
    p.add_argument("--curve", default=None, metavar="PNG",
                   help="also plot test accuracy after each epoch against training seconds, into this file")
    args = p.parse_args(argv)

    import convlab
    from convlab.bench import torch_twin
    from convlab.train.recipes import apply_bn_momentum, build_model
    from convlab.train.run import load_run_data, loaders

    cfg = recipe(args.recipe)
    for key in cfg:
        if getattr(args, key, None) is not None:
            cfg[key] = getattr(args, key)
    if cfg["model"] not in TWINS or cfg.get("width") is not None:
        p.error(f"recipe {args.recipe}: model {cfg['model']} (width {cfg.get('width')}) has no torch twin here")
    cfg.update(pad=0, limit_train=args.limit_train, limit_test=None, seed=args.seed)
    convlab.manual_seed(args.seed)
    train_ds, _, test_ds, info, spec = load_run_data(cfg)
    train_loader, _, test_loader = loaders(train_ds, None, test_ds, cfg["batch_size"], cfg["seed"])
    c, h, w = spec.input_shape
    model, spec = build_model(cfg["model"], c, len(info["classes"]), (h, w))
    if cfg.get("bn_momentum") is not None:
        apply_bn_momentum(model, cfg["bn_momentum"])
    initial = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    rows, curves = {}, {}
    if args.only in (None, "convlab"):
        curves["convlab"] = [] if args.curve else None
        rows["convlab"] = run_convlab(cfg, model, train_loader, test_loader, len(info["classes"]), curves["convlab"])
        print(f"convlab: test accuracy {100 * rows['convlab'][0]:.2f}%, {rows['convlab'][1]:.1f} s", file=sys.stderr)
    if args.only in (None, "torch"):
        import torch

        torch.set_num_threads(convlab.get_num_threads())  # the same count as convlab: the process's cores
        twin = torch_twin(cfg["model"], seed=args.seed, **spec["kwargs"])  # the seed also draws its dropout masks
        twin.load_state_dict({k: torch.from_numpy(v) for k, v in initial.items()})
        curves["torch"] = [] if args.curve else None
        rows["torch"] = run_torch(cfg, twin, train_loader, test_loader, curves["torch"])
        print(f"torch:   test accuracy {100 * rows['torch'][0]:.2f}%, {rows['torch'][1]:.1f} s", file=sys.stderr)

    n = len(train_ds)
    flip = cfg["flip"] if cfg["flip"] is not None else bool(cfg["augment"] and info["flip"])  # as load_run_data
    extras = [name for name, on in (("crops", cfg["augment"]), ("flips", flip), ("flip TTA", cfg["tta"])) if on]
    extras += [f"label smoothing {cfg['label_smoothing']:g}"] if cfg["label_smoothing"] else []
    extras += [f"EMA {cfg['ema']:g}"] if cfg["ema"] else []
    extras += [f"erase {cfg['erase']:g}"] if cfg["erase"] else []
    desc = (f"recipe {args.recipe}: {cfg['optimizer']} lr {cfg['lr']:g}, {cfg['schedule']}, batch {cfg['batch_size']}"
            + "".join(f", {e}" for e in extras))
    print(f"\n{os.cpu_count()} CPU cores, {convlab.get_num_threads()} threads; {n:,} training images; test set "
          f"{len(test_ds):,} images; {desc}\n")
    print("| model | dataset | epochs | convlab test acc | convlab time | torch test acc | torch time | difference | "
          "time ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    cl = rows.get("convlab", (float("nan"), float("nan")))
    th = rows.get("torch", (float("nan"), float("nan")))
    print(f"| {cfg['model']} | {info['name']} | {cfg['epochs']} | {100 * cl[0]:.2f}% | {cl[1]:.0f} s | "
          f"{100 * th[0]:.2f}% | {th[1]:.0f} s | {100 * (cl[0] - th[0]):+.2f} points | {cl[1] / th[1]:.2f}x |")
    if args.curve:
        named = {k: v for k, v in curves.items() if v}
        for name, points in named.items():
            print(f"{name} curve: " + ", ".join(f"{s:.0f} s {100 * a:.2f}%" for s, a in points))
        targets = {"fast": 0.935, "best": 0.945, "default": 0.925}
        plot_curve(named, args.curve, f"{cfg['model']} on {info['name']}, recipe {args.recipe}",
                   targets.get(args.recipe))
        print(f"curve: {args.curve}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
