"""The examples in the docstrings are run, so the documentation cannot drift from the code."""

import doctest
import importlib
import pkgutil

import pytest

import convlab

MODULES = sorted(m.name for m in pkgutil.walk_packages(convlab.__path__, "convlab."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} failed (output above)"


def test_the_walk_finds_the_documented_modules():
    assert {"convlab.files", "convlab.serialization", "convlab.tensor", "convlab.models"} <= set(MODULES)
