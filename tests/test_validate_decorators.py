"""argcheck.check_namespace wraps public classes' __init__ with the argument checks; it must keep any
other decorator on that __init__ (it used to unwrap one functools.wraps level, whoever put it there,
which silently dropped the decorator: a tracer, a user's wrapper, mutmut's trampoline)."""

from __future__ import annotations

import functools

import pytest

from convlab import argcheck


def _make():
    calls = []

    def traced(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            calls.append(fn.__qualname__)
            return fn(*args, **kwargs)
        return wrapper

    class Traced:
        @traced
        def __init__(self, flag: bool = False):
            self.flag = flag

    class Child(Traced):  # inherits the checked __init__: rechecked under its own name, not twice
        pass

    argcheck.check_namespace({"Traced": Traced, "Child": Child})
    return Traced, Child, calls


def test_a_decorated_init_keeps_its_decorator_and_gets_the_checks():
    Traced, Child, calls = _make()
    assert Traced(True).flag is True and Child(False).flag is False
    assert calls == ["_make.<locals>.Traced.__init__"] * 2  # the decorator ran once per construction
    with pytest.raises(TypeError, match=r"Traced: argument 'flag' must be"):
        Traced("yes")
    with pytest.raises(TypeError, match=r"Child: argument 'flag' must be"):
        Child("yes")
    assert calls == ["_make.<locals>.Traced.__init__"] * 2  # refused before the body ran
