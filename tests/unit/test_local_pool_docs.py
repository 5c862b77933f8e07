"""docs/local-user-pool.md's tables stay true: the operations table lists exactly the operations the
local pool serves, the routes table exactly the management API's routes it serves, and every test any
table names as the check of a row exists."""

from __future__ import annotations

import re
from pathlib import Path

from localpool.api import LocalUserPoolApi
from localpool.http_api import HttpApiGateway
from localpool.template import Template

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "local-user-pool.md").read_text()
CHECKED_BY = re.compile(r"`(test_[a-z0-9_]+\.py)::(test_[a-z0-9_]+)`")


def table_rows(heading: str, start: int = 0) -> list[list[str]]:
    """The rows of the first table after `heading` (from `start`; header and rule left out), as cells."""
    lines = DOC[DOC.index(heading, start) :].splitlines()
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


def routes_table() -> list[list[str]]:
    return table_rows("| Route | What runs")


def test_the_routes_table_lists_exactly_the_routes_the_pool_serves():
    """The management API's routes, as the local pool reads them from the template with Passkeys on."""
    template = Template(parameters={"Passkeys": "Enabled", "AllowedRedirectOrigins": "http://localhost:9229"})
    physical = {"UserPool": "us-east-1_pool", "UserPoolClient": "client"}
    issuer = ("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool", "http://localhost:9229/us-east-1_pool")
    served = HttpApiGateway.from_template(template, physical, "us-east-1", issuer, keys=lambda: ()).route_keys()
    assert sorted(row[0] for row in routes_table()) == served


def test_every_row_of_the_tables_names_tests_that_exist():
    differences = "| Difference | Why it is accepted | Checked by |"
    rows = operations_table() + routes_table() + table_rows(differences)
    rows += table_rows(differences, DOC.index("### Where it differs from API Gateway"))
    assert len(rows) > 50
    for row in rows:
        named = CHECKED_BY.findall(row[-1])
        assert named, f"no test checks: {row[0][:60]}"
        for module, test in named:
            source = (ROOT / "tests" / module).read_text()
            assert re.search(rf"^def {test}\(", source, re.MULTILINE), f"{module}::{test} does not exist"
