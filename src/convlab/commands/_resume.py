"""``convlab train --resume``: which flags may change when a run goes on, and which conflict."""

from __future__ import annotations

# flags that do not change what is trained: how the run is shown, launched or logged
FREE = {"resume", "epochs", "quiet", "debug", "progress", "distributed", "timeout", "tensorboard", "layer_stats", "live",
        "func", "command", "force", "sync_bn", "matmul_precision"}


def given_flags(args) -> set[str]:
    """The ``dest`` names of the options written on the command line (not left at their defaults)."""
    argv = getattr(args, "argv", None) or []
    parser = getattr(args, "_parser", None)
    if parser is None:
        return set()
    given = set()
    for action in parser._actions:
        for opt in action.option_strings:
            if any(tok == opt or (opt.startswith("--") and tok.startswith(opt + "=")) for tok in argv):
                given.add(action.dest)
    return given


def _shown(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool) or value is None:
        return {True: "on", False: "off", None: "not set"}[value]
    return str(value)


def conflicts(args, cfg: dict, new_cfg: dict) -> list[str]:
    """``["--lr 0.1 (the run has 0.003)", ...]`` for each flag given that differs from the run's configuration."""
    out = []
    for dest in sorted(given_flags(args) - FREE):
        if dest not in new_cfg:
            out.append(f"--{dest.replace('_', '-')}")
            continue
        if new_cfg[dest] != cfg.get(dest):
            out.append(f"--{dest.replace('_', '-')} {_shown(new_cfg[dest])} (the run has {_shown(cfg.get(dest))})")
    return out
