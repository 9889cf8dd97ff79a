"""No code path in the package may execute data: no pickle, eval, exec, marshal or shelve."""

import ast
import pathlib

import convlab

PACKAGE = pathlib.Path(convlab.__file__).parent
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve", "joblib"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}


def _violations(path: pathlib.Path, root: pathlib.Path = PACKAGE.parent) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Name) and fn.id in FORBIDDEN_CALLS:
                found.append(f"{fn.id}()")
            for kw in node.keywords:  # np.load(..., allow_pickle=True) would unpickle object arrays
                if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append("allow_pickle=True")
    return [f"{path.relative_to(root)}:{v}" for v in found]


def test_package_never_executes_data():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10  # the scan really sees the package
    bad = [v for f in files for v in _violations(f)]
    assert bad == []


def test_scanner_catches_each_forbidden_form(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import pickle\nfrom marshal import loads\neval('1')\nimport numpy as np\nnp.load('x', allow_pickle=True)\n"
    )
    found = [v.split(":", 1)[1] for v in _violations(sample, tmp_path)]
    assert found == ["import pickle", "from marshal import ...", "eval()", "allow_pickle=True"]

