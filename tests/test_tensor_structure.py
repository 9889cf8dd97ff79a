"""The tensor core is split by concept with imports running one way (no cycle between the tensor
modules and the ops), and the old import path ``convlab.tensor`` still offers every name."""

import ast
import pathlib

import convlab

SRC = pathlib.Path(convlab.__file__).parent
CORE = ["dtypes", "grad_mode", "random", "tensor_class", "graph", "convert", "creation", "tensor"]


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    return ".".join(rel.parts)


def _imports(path: pathlib.Path) -> set[str]:
    """Every convlab module ``path`` imports, at any depth of the file (lazy imports count too)."""
    here = _module_name(path).split(".")
    package = here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:  # from . import a, b
                found |= {".".join(base + [a.name]) for a in node.names}
            else:
                found.add(target)
    return found


def test_the_core_and_the_ops_import_without_a_cycle():
    files = [SRC / f"{m}.py" for m in CORE] + sorted((SRC / "ops").glob("*.py"))
    graph = {_module_name(f): {i for i in _imports(f) if (SRC / (i.replace(".", "/") + ".py")).exists()
                               or (SRC / i.replace(".", "/")).is_dir()} for f in files}
    state: dict[str, int] = {}

    def visit(m, path):
        if state.get(m) == 2 or m not in graph:
            return
        assert state.get(m) != 1, f"import cycle: {' -> '.join(path + [m])}"
        state[m] = 1
        for dep in graph[m]:
            visit(dep, path + [m])
        state[m] = 2

    for m in graph:
        visit(m, [])
    # the ops see only the graph side of the tensor, never the facade
    for m, deps in graph.items():
        if m.startswith("ops."):
            assert "tensor" not in deps, f"{m} imports convlab.tensor (use convlab.graph)"


def test_each_core_file_stays_small():
    for m in CORE:
        n = len((SRC / f"{m}.py").read_text().splitlines())
        assert n <= 400, f"{m}.py has {n} lines"


def test_the_old_import_path_offers_every_name():
    from convlab.tensor import (  # noqa: F401
        Context,
        Function,
        RemovableHandle,
        Tensor,
        _leaf,
        arange,
        as_tensor,
        default_generator,
        enable_grad,
        from_numpy,
        full,
        get_default_dtype,
        get_rng_state,
        is_grad_enabled,
        manual_seed,
        no_grad,
        ones,
        rand,
        randint,
        randn,
        set_rng_state,
        tensor,
        unbroadcast,
        using_generator,
        zeros,
        zeros_like,
    )

    t = tensor([1.0, 2.0], requires_grad=True)
    (t.clone() * t).sum().backward()  # clone (convert), * (math), backward (graph) are all bound
    assert t.grad.tolist() == [2.0, 4.0]
