"""The catalogue reports its size: every table of hostile cases, counted and printed."""

import importlib.util
import os

import pytest

HERE = os.path.dirname(__file__)


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_robust_{name}", os.path.join(HERE, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_catalogue_counts_several_hundred_cases(capsys):
    core = _load("test_bad_inputs_core")
    conv = _load("test_bad_inputs_conv")
    nn = _load("test_bad_inputs_nn")
    files = _load("test_bad_files")
    cli = _load("test_cli_bad_inputs")
    props = _load("test_properties")
    issue20 = _load("test_silent_and_bare")
    user = _load("test_hostile_user")
    counts = {f"core/{k}": len(v) for k, v in core.CORE_FAMILIES.items()}
    counts["conv+pool"] = len(conv.CASES)
    counts.update({f"nn/{k}": len(v) for k, v in nn.NN_FAMILIES.items()})
    counts.update({f"files/{k}": len(v) for k, v in files.FILE_FAMILIES.items()})
    counts["cli"] = cli.CLI_CASES
    counts.update({f"issue20/{k}": len(v) for k, v in issue20.FAMILIES.items()})
    counts["issue20/cli"] = len(issue20.CLI)
    counts.update({f"user/{k}": len(v) for k, v in user.FAMILIES.items()})
    counts["user/files"] = len(user.FILES)
    counts["user/decoded"] = len(user.DECODED)
    counts["user/cli"] = user.CLI_CASES
    total = sum(counts.values())
    with capsys.disabled():
        print(f"\nhostile-input catalogue: {total} raising cases "
              + ", ".join(f"{k} {v}" for k, v in counts.items()) + f"; {props.PROPERTIES} hypothesis properties")
    assert total >= 700, counts
    assert props.PROPERTIES == sum(1 for n in dir(props) if n.startswith("test_"))


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-s"])
