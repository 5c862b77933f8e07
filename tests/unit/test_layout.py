"""The layer's shape (docs/architecture.md): each subpackage says what it holds, and a sign-in
method's logic lives in its module under keyless.methods only."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from keyless import methods

LAYER = Path(__file__).resolve().parents[2] / "shared" / "keyless"
SUBPACKAGES = sorted(p.name for p in LAYER.iterdir() if (p / "__init__.py").exists())
# Every package below the layer's own, nested ones too (keyless.core.settings): "core", "core/settings", ...
PACKAGES = sorted(p.parent.relative_to(LAYER).as_posix() for p in LAYER.rglob("*/__init__.py"))


def modules_of(package: Path) -> set[str]:
    return {p.stem for p in package.glob("*.py") if p.stem != "__init__"}


def subpackages_of(package: Path) -> set[str]:
    return {p.parent.name for p in package.glob("*/__init__.py")}


@pytest.mark.parametrize("path", PACKAGES)
def test_each_subpackage_lists_exactly_its_modules(path):
    name = "keyless." + path.replace("/", ".")
    package = importlib.import_module(name)
    assert package.__doc__, f"{name} says what it holds"
    contents = modules_of(LAYER / path) | subpackages_of(LAYER / path)
    assert {entry for entry in package.__all__ if entry in contents} == contents


def test_the_layer_is_only_subpackages():
    assert modules_of(LAYER) == set()
    assert set(SUBPACKAGES) == {"account", "attach", "aws", "core", "methods", "profiles", "signin", "signup", "store"}


def test_every_method_module_is_registered_and_every_registered_method_has_its_module():
    assert modules_of(LAYER / "methods") == {m.module for m in methods.METHODS.values()}


def names_used_as_strings(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


@pytest.mark.parametrize("method", sorted(methods.NAMES))
def test_no_module_outside_the_methods_names_a_method(method):
    """A method is named in keyless.methods only: the rounds, the store and the settings reach it
    through the registry, so adding one is one module there."""
    outside = [
        str(path.relative_to(LAYER))
        for path in LAYER.rglob("*.py")
        if path.parent.name != "methods" and method in names_used_as_strings(path)
    ]
    assert outside == []
