"""Accuracy and wall time of convlab against a plain-torch twin, trained the same way.

    python benchmarks/accuracy.py                         # the `convlab train` default recipe
    python benchmarks/accuracy.py --model lenet5 --epochs 5
    python benchmarks/accuracy.py --limit-train 5000      # a quick look

Both frameworks train the same architecture (the torch twin is ``convlab.bench.torch_twin``,
with the same parameter names) from the same initial weights (convlab's, copied into torch), on the
same batches in the same order with the same augmentation (both read one convlab DataLoader),
with the same optimizer, learning-rate schedule and number of steps. What still differs:
dropout masks (each framework draws its own) and floating-point summation order. The script
prints a markdown table: model, dataset, epochs, test accuracy and training wall time on this
machine for both, and the accuracy difference.
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
    if s == "onecycle":
        return opt, sch.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch), "batch"
    if s == "cosine":
        return opt, sch.CosineAnnealingLR(opt, T_max=epochs), "epoch"
    if s == "step":
        return opt, sch.StepLR(opt, step_size=max(1, epochs // 3 or 1), gamma=0.1), "epoch"
    return opt, None, "epoch"


# --------------------------------------------------------------------------- the two runs
def run_convlab(cfg, model, train_loader, test_loader, num_classes):
    from convlab.train import Trainer, evaluate
    from convlab.train.recipes import build_optimizer, build_scheduler

    opt = build_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"], cfg["weight_decay"])
    sched = build_scheduler(cfg["schedule"], opt, cfg["lr"], cfg["epochs"], len(train_loader))
    train_loader.set_epoch(0)
    t0 = time.perf_counter()
    from convlab import nn

    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg["label_smoothing"])
    Trainer(model, opt, loss_fn, scheduler=sched, print_fn=None, progress=False).fit(train_loader, None, epochs=cfg["epochs"])
    seconds = time.perf_counter() - t0
    return evaluate(model, test_loader, num_classes=num_classes)["accuracy"], seconds


def run_torch(cfg, model, train_loader, test_loader):
    import torch
    import torch.nn.functional as F

    opt, sched, interval = torch_optim(torch, cfg, model.parameters(), len(train_loader))
    train_loader.set_epoch(0)
    t0 = time.perf_counter()
    for _ in range(cfg["epochs"]):
        model.train()
        for x, y in train_loader:
            loss = F.cross_entropy(model(torch.from_numpy(x.numpy())), torch.from_numpy(y.numpy()),
                                   label_smoothing=cfg["label_smoothing"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None and interval == "batch":
                sched.step()
        if sched is not None and interval == "epoch":
            sched.step()
    seconds = time.perf_counter() - t0
    model.eval()
    correct = n = 0
    with torch.no_grad():
        for x, y in test_loader:
            pred = model(torch.from_numpy(x.numpy())).argmax(1).numpy()
            correct += int((pred == y.numpy()).sum())
            n += len(pred)
    return correct / n, seconds


def main(argv=None) -> int:
    from convlab.train.recipes import DEFAULT

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=DEFAULT["model"], choices=TWINS, help="a model with a 28x28 torch twin")
    p.add_argument("--dataset", default=DEFAULT["dataset"])
    p.add_argument("--epochs", type=int, default=DEFAULT["epochs"])
    p.add_argument("--batch-size", type=int, default=DEFAULT["batch_size"])
    p.add_argument("--lr", type=float, default=DEFAULT["lr"])
    p.add_argument("--optimizer", default=DEFAULT["optimizer"], choices=["sgd", "adam", "adamw"])
    p.add_argument("--weight-decay", type=float, default=DEFAULT["weight_decay"])
    p.add_argument("--label-smoothing", type=float, default=DEFAULT["label_smoothing"])
    p.add_argument("--schedule", default=DEFAULT["schedule"], choices=["onecycle", "cosine", "step", "none"])
    p.add_argument("--augment", action="store_true")
    p.add_argument("--limit-train", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=["convlab", "torch"], default=None, help="run one side only")
    args = p.parse_args(argv)

    import convlab
    from convlab.bench import torch_twin
    from convlab.train.recipes import build_model
    from convlab.train.run import load_run_data, loaders

    cfg = {"model": args.model, "dataset": args.dataset, "epochs": args.epochs, "batch_size": args.batch_size,
           "lr": args.lr, "optimizer": args.optimizer, "weight_decay": args.weight_decay, "schedule": args.schedule,
           "label_smoothing": args.label_smoothing,
           "augment": args.augment, "pad": 0, "val_split": DEFAULT["val_split"], "limit_train": args.limit_train,
           "limit_test": None, "seed": args.seed}
    convlab.manual_seed(args.seed)
    train_ds, _, test_ds, info, spec = load_run_data(cfg)
    train_loader, _, test_loader = loaders(train_ds, None, test_ds, cfg["batch_size"], cfg["seed"])
    c, h, w = spec.input_shape
    model, spec = build_model(args.model, c, len(info["classes"]), (h, w))
    initial = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    rows = {}
    if args.only in (None, "convlab"):
        rows["convlab"] = run_convlab(cfg, model, train_loader, test_loader, len(info["classes"]))
        print(f"convlab: test accuracy {100 * rows['convlab'][0]:.2f}%, {rows['convlab'][1]:.1f} s", file=sys.stderr)
    if args.only in (None, "torch"):
        import torch

        torch.set_num_threads(convlab.get_num_threads())  # the same count as convlab: the process's cores
        twin = torch_twin(args.model, seed=args.seed, **spec["kwargs"])  # the seed also draws its dropout masks
        twin.load_state_dict({k: torch.from_numpy(v) for k, v in initial.items()})
        rows["torch"] = run_torch(cfg, twin, train_loader, test_loader)
        print(f"torch:   test accuracy {100 * rows['torch'][0]:.2f}%, {rows['torch'][1]:.1f} s", file=sys.stderr)

    n = len(train_ds)
    recipe = (f"{cfg['optimizer']} lr {cfg['lr']:g}, {cfg['schedule']}, batch {cfg['batch_size']}"
              + (", augment" if cfg["augment"] else ""))
    print(f"\n{os.cpu_count()} CPU cores; {n:,} training images; test set {len(test_ds):,} images; {recipe}\n")
    print("| model | dataset | epochs | convlab test acc | convlab time | torch test acc | torch time | difference |")
    print("|---|---|---|---|---|---|---|---|")
    cl = rows.get("convlab", (float("nan"), float("nan")))
    th = rows.get("torch", (float("nan"), float("nan")))
    print(f"| {args.model} | {info['name']} | {cfg['epochs']} | {100 * cl[0]:.2f}% | {cl[1]:.0f} s | "
          f"{100 * th[0]:.2f}% | {th[1]:.0f} s | {100 * (cl[0] - th[0]):+.2f} points |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
