"""The hostile-input catalogue's one helper: a case is (id, call, exception type, message regex).

Every regex names the offending argument and its value, so a case fails both when the wrong
exception is raised and when the message stops saying what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import pytest


class Case(NamedTuple):
    id: str
    call: Callable
    exc: type
    match: str


def params(cases):
    """``pytest.mark.parametrize`` arguments with readable ids."""
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return pytest.mark.parametrize("case", cases, ids=ids)


def check(case: Case, *args):
    with pytest.raises(case.exc) as info:
        case.call(*args)
    msg = str(info.value)
    assert re.search(case.match, msg), f"message {msg!r} does not match {case.match!r}"
    return msg
