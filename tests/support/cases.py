"""Case tables kept as CSV under tests/fixtures/, read into pytest parameters.

A long table of (input, expected) pairs reads better, and is added to more easily, as data than
as Python literals repeated test after test; the test keeps the assertion. A line opening with
``#`` is a comment (what a group of rows is about); a ``note`` column says why one row is there;
a ``rule`` column names the rule a row tests, and with the title it makes the test's id.
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def read_table(name: str) -> list[dict[str, str]]:
    """The rows of ``tests/fixtures/<name>`` (a CSV with a header) as text, comments left out."""
    with (FIXTURES / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def cases(name: str, *columns: str, blank_is_none: Collection[str] = ()) -> list[Any]:
    """One pytest parameter set per row of ``tests/fixtures/<name>``: the values of ``columns``
    in that order, an empty cell of a column in ``blank_is_none`` read as None (an empty title
    stays an empty title)."""
    params = []
    for row in read_table(name):
        values = [None if c in blank_is_none and row[c] == "" else row[c] for c in columns]
        label = f"{row['rule']}: {row['title']}" if "rule" in row else None
        params.append(pytest.param(*values, id=label))
    return params
