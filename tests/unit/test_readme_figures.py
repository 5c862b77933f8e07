"""Figures and paths the README and docs state that the code decides (the measured ones come from
make bench and are reproduced there)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = {
    path.relative_to(ROOT).as_posix(): path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
}


def test_the_python_client_is_as_short_as_the_readme_says():
    stated = int(
        re.search(r"`clients/python/keyless_client.py` is the whole\s+protocol in (\d+) lines of Python", README).group(1)
    )
    source = (ROOT / "clients" / "python" / "keyless_client.py").read_text().splitlines()
    start = next(i for i, line in enumerate(source) if line.startswith("def link_secret"))
    cls = next(i for i, line in enumerate(source) if line.startswith("class PasswordlessClient"))
    end = next((i for i in range(cls + 1, len(source)) if source[i] and not source[i][0].isspace()), len(source))
    assert sum(1 for line in source[start:end] if line.strip()) == stated


def test_the_disposable_domain_count_is_the_data_files():
    stated = int(re.search(r"disposable_domains.txt` \((\d+) services\)", README).group(1))
    data = ROOT / "shared" / "keyless" / "signup" / "data" / "disposable_domains.txt"
    entries = [line for line in data.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(entries) == stated


@pytest.mark.parametrize("document", sorted(DOCS))
def test_every_repository_path_a_document_names_exists(document):
    named = set(
        re.findall(r"`((?:shared|functions|localpool|bench|tests|testkit|events|docs|client|clients)/[\w./-]*)`", DOCS[document])
    )
    written_by_runs = ("bench/results/",)  # make bench writes these; a fresh clone has none yet
    missing = sorted(
        path
        for path in named
        if "<" not in path and "*" not in path and not path.startswith(written_by_runs) and not (ROOT / path).exists()
    )
    assert missing == []
