"""``convlab train``: train a CNN and report its test accuracy.

    convlab train                                   the default: a compact CNN on Fashion-MNIST
    convlab train --recipe fast                     a named recipe (flags written after it override it)
    convlab train --model lenet5 --epochs 5
    convlab train --dataset lines --epochs 2        the seed lesson's lines, no files needed
    convlab train --resume runs/train-001/last.safetensors
    mpirun -n 2 convlab train --distributed         data-parallel over 2 MPI ranks (same result as 1 process)

Data-parallel training (``--distributed``, under ``mpirun``): every rank builds the same model
(rank 0's weights are broadcast), takes its rows of each global batch of ``--batch-size`` items
(``--batch-size`` / ranks each), and the gradients are averaged after ``backward()``, so the run
follows the same steps as one process with the same arguments. Validation and test sets are split
over the ranks and their counts summed. Only rank 0 writes files and prints. Outside ``mpirun``
``--distributed`` trains as a single process (after a note); under ``mpirun`` without it, the
command refuses to start (every process would train its own copy).
"""

from __future__ import annotations

import sys

DEFAULT_TIMEOUT = 300.0  # seconds a rank waits for the others before aborting a --distributed job


def register(subparsers):
    import argparse

    from .. import validate
    from ..cli import add_common
    from ..train.recipes import DEFAULT, RECIPES, describe
    from ._preprocessing import add_preprocessing_flags

    d = DEFAULT
    p = subparsers.add_parser(
        "train", help="train a CNN (default: a compact CNN on Fashion-MNIST) and report its test accuracy",
        description="Train a model of the zoo on a dataset, validating every epoch, and print the test accuracy, "
                    "the time taken and where the checkpoints, logs and plots are. With no options: "
                    f"{d['model']} on {d['dataset']}, {d['epochs']} epochs, batch {d['batch_size']}, "
                    f"{d['optimizer']} lr {d['lr']} with a {d['schedule']} schedule"
                    + (f", label smoothing {d['label_smoothing']:g}" if d["label_smoothing"] else "") + ".")
    add_common(p)
    p.add_argument("--recipe", choices=list(RECIPES), default=None, metavar="NAME",
                   help="start from a named recipe; flags written on the command line override its values. "
                        + "; ".join(f"{name}: {RECIPES[name][0]} ({describe(name)})" for name in RECIPES).replace("%", "%%")
                        + " (default: default)")
    p.add_argument("--model", default=d["model"], help=f"a model of the zoo; convlab models lists them (default: {d['model']})")
    p.add_argument("--dataset", default=d["dataset"],
                   help="fashion-mnist, mnist, kmnist, cifar10, lines, edges-orientation or folder:PATH "
                        f"(default: {d['dataset']})")
    p.add_argument("--data-root", default=None, help="directory holding the dataset's files (default: searched)")
    p.add_argument("--epochs", type=validate.cli_int(1), default=None, help=f"epochs in all (default: {d['epochs']})")
    p.add_argument("--batch-size", type=validate.cli_int(1), default=d["batch_size"], help=f"(default: {d['batch_size']})")
    p.add_argument("--lr", type=validate.cli_float(0, min_open=True), default=d["lr"],
                   help=f"learning rate, the peak for onecycle (default: {d['lr']})")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default=d["optimizer"],
                   help=f"(default: {d['optimizer']})")
    p.add_argument("--weight-decay", type=validate.cli_float(0), default=d["weight_decay"],
                   help=f"(default: {d['weight_decay']})")
    p.add_argument("--schedule", choices=["cosine", "onecycle", "linear", "step", "none"], default=d["schedule"],
                   help="learning-rate schedule; onecycle rises for 30%% of the steps and falls, as cosines, linear "
                        f"the same with straight lines (default: {d['schedule']})")
    p.add_argument("--label-smoothing", type=validate.cli_float(0, 1), default=d["label_smoothing"], metavar="E",
                   help="cross-entropy against (1 - E) * one-hot + E / classes, as torch's label_smoothing "
                        f"(default: {d['label_smoothing']:g})")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=False,
                   help="random crops (padding 2 px for 28x28, 4 for 32x32) and, where mirroring keeps the label, flips "
                        "(--no-augment: neither, also in a recipe that has them)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="random horizontal flips of the training pictures (default: with --augment, where mirroring keeps "
                        "the label: Fashion-MNIST and CIFAR-10)")
    p.add_argument("--erase", type=validate.cli_float(0, 1), default=0.0, metavar="P",
                   help="random erasing with probability P (default: 0, off)")
    p.add_argument("--ema", type=validate.cli_float(0, 1), default=0.0, metavar="DECAY",
                   help="validate, test and save an exponential moving average of the weights, updated every step "
                        "with this decay (0.999: about the last 1,000 steps) (default: 0, off)")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=False,
                   help="test-time augmentation: the test accuracy averages the logits of each picture and its mirror "
                        "image (default: off)")
    p.add_argument("--bn-momentum", type=validate.cli_float(0, 1, min_open=True), default=None, metavar="M",
                   help="momentum of every batch-norm layer's running statistics (default: the model's, 0.1)")
    p.add_argument("--width", type=validate.cli_int(1), default=None, metavar="N",
                   help="channels of the first stage, for models that have a width (compactcnn: 32)")
    add_preprocessing_flags(p, training=True)
    p.add_argument("--val-split", default=None, metavar="FRACTION|COUNT",
                   help="training images held out for validation: a fraction between 0 and 1 (0.1) or a whole count "
                        "(500) (default: 10%%, at most 5,000)")
    p.add_argument("--val-data", default=None, metavar="DIR",
                   help="a folder of class folders to validate on (default: a val/ folder beside train/, else --val-split)")
    p.add_argument("--test-data", default=None, metavar="DIR",
                   help="a folder of class folders to test on (default: a test/ folder beside train/, else 20%% held out)")
    p.add_argument("--skip-bad-files", action="store_true",
                   help="leave out pictures that cannot be read (with a warning and a count) instead of stopping")
    p.add_argument("--limit", type=validate.cli_int(1), default=None, metavar="N",
                   help="use at most N images of each split (quick runs)")
    p.add_argument("--limit-train", type=validate.cli_int(1), default=None, metavar="N",
                   help="train on N images only (quick runs)")
    p.add_argument("--limit-val", type=validate.cli_int(1), default=None, metavar="N",
                   help="validate on N images only (default with --limit-train: a tenth of it)")
    p.add_argument("--limit-test", type=validate.cli_int(1), default=None, metavar="N", help="test on N images only (quick runs)")
    p.add_argument("--early-stopping", type=validate.cli_int(1), default=None, metavar="EPOCHS",
                   help="stop after this many epochs without a better validation accuracy")
    p.add_argument("--matmul-precision", choices=["highest", "high", "medium"], default="highest",
                   help="float32 matrix products (convolutions, linear layers): highest and high keep float32; medium "
                        "rounds their inputs to bfloat16 and sums in float32 where the CPU has AVX512_BF16, as "
                        "torch.set_float32_matmul_precision (elsewhere float32); may change on --resume (default: highest)")
    p.add_argument("--seed", type=int, default=0, help="seeds weights, data order, augmentation and dropout (default: 0)")
    p.add_argument("--out", default=None, help="output directory (default: a new runs/train-NNN)")
    p.add_argument("--force", action="store_true", help="write into --out even if it already holds files")
    p.add_argument("--resume", default=None, metavar="CKPT",
                   help="continue the run of this checkpoint, in its directory (--epochs may extend a step/none schedule)")
    p.add_argument("--layer-stats", type=validate.cli_int(1), default=None, metavar="N",
                   help="every N steps record each layer's activation and gradient mean/std and dead-ReLU fraction "
                        "(layer_stats.jsonl and layer_stats.png in the output directory)")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard event files (losses, accuracy, learning rate, first-layer kernels, "
                        "weight histograms) into OUT/tensorboard; needs tensorboardX (pip install 'convlab[tensorboard]')")
    p.add_argument("--live", action="store_true",
                   help="serve the explorer (convlab explore) on 127.0.0.1 while training: curves and the first layer's "
                        "kernels as they change (needs pip install 'convlab[explore]')")
    g = p.add_argument_group("data-parallel training (launch with: mpirun -n N convlab train --distributed ...)")
    g.add_argument("--distributed", action="store_true",
                   help="train over the MPI ranks of mpirun (needs mpi4py); --batch-size is the global batch, split evenly "
                        "over the ranks; only rank 0 writes and prints")
    g.add_argument("--sync-bn", action="store_true",
                   help="batch-norm statistics over the global batch (all ranks) instead of each rank's rows; "
                        "with it a run matches one process")
    g.add_argument("--timeout", type=validate.cli_float(0, min_open=True), default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help="a rank that waits this long for the others aborts the whole job with an error "
                        f"(a rank died or hung; resume from the last checkpoint) (default: {DEFAULT_TIMEOUT:g})")
    p.set_defaults(func=main, _parser=p)
    return p


def main(args) -> int:
    from ..cli import UsageError
    from ._train_config import _Collective, _start_distributed
    from ._train_run import _main

    rank, world = _start_distributed(args, UsageError)
    if world == 1:
        return _main(args, 0, 1)
    from .. import distributed as dist

    try:
        return _main(args, rank, world)
    except UsageError:
        if rank == 0:
            raise
        return 2  # every rank hit it; rank 0 says it
    except _Collective:
        if rank == 0:
            raise
        return 1
    except Exception as exc:  # this rank only: say so, and stop the others now rather than at their timeout
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        print(f"convlab train: error: rank {rank} of {world}: {exc}; aborting the job", file=sys.stderr, flush=True)
        dist.abort(1)
        raise
