"""docs/local-user-pool.md's two tables stay true: the operations table lists exactly the operations
the local pool serves, and every test either table names as the check of a row exists."""

from __future__ import annotations

import re
from pathlib import Path

from localpool.api import LocalUserPoolApi

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "local-user-pool.md").read_text()
CHECKED_BY = re.compile(r"`(test_[a-z0-9_]+\.py)::(test_[a-z0-9_]+)`")


def table_rows(heading: str) -> list[list[str]]:
    """The rows of the first table after `heading` (header and rule left out), as cells."""
    lines = DOC[DOC.index(heading) :].splitlines()
    table = []
    for line in lines[2:]:
        if not line.startswith("| "):
            break
        table.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return table


def operations_table() -> list[list[str]]:
    return table_rows("| Operation | What runs")


def test_the_operations_table_lists_exactly_what_the_pool_serves():
    listed = [name.strip() for row in operations_table() for name in row[0].split(",")]
    assert sorted(listed) == LocalUserPoolApi.operations()


def test_every_row_of_both_tables_names_tests_that_exist():
    rows = operations_table() + table_rows("| Difference | Why it is accepted | Checked by |")
    assert len(rows) > 40
    for row in rows:
        named = CHECKED_BY.findall(row[-1])
        assert named, f"no test checks: {row[0][:60]}"
        for module, test in named:
            source = (ROOT / "tests" / module).read_text()
            assert re.search(rf"^def {test}\(", source, re.MULTILINE), f"{module}::{test} does not exist"
