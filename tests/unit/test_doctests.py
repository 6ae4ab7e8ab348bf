"""The examples in the package's docstrings run and show what they say (``doctest``), in every
module of samebits that has examples."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.unit.test_structure import MODULES


def _examples(name: str) -> int:
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(importlib.import_module(name)))


WITH_EXAMPLES = sorted(name for name in MODULES if _examples(name))


def test_the_examples_are_found():
    assert {"samebits.core.layout", "samebits.core.seeds", "samebits.core.usercode"} <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_the_examples_hold(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, report=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (python -m doctest -v)"
