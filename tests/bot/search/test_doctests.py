"""The examples in bot/search's docstrings are run, so the documentation cannot drift from the code."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from bot.search import index, rank, text

MODULES = [index, rank, text]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_hold(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
