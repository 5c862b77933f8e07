"""Cognito's own input validation, from botocore's model of the API (the model AWS generates from the
service's): required members, lengths, ranges, patterns and enums, refused before anything runs with
the message Cognito gives:

    InvalidParameterException: 2 validation errors detected: Value null at 'clientId' failed to
    satisfy constraint: Member must not be null; Value '1000' at 'limit' failed to satisfy
    constraint: Member must have value less than or equal to 60

Paths are the members' names with a lower-case first letter, list items numbered from 1
('userAttributes.1.member.name'); the values of members the model marks sensitive (passwords, user
names, tokens, codes) are not repeated ("Value at 'password' ..."). A value of the wrong JSON type is
a SerializationException, as for any AWS JSON service.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

import botocore.session
import regex
from botocore.model import ListShape, MapShape, Shape, StructureShape

from localpool.errors import CognitoError, invalid_parameter

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "blob": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float, str),
    "structure": (dict,),
    "map": (dict,),
    "list": (list,),
}
# Java's shorthand classes are ASCII-only (as in the service, which validates with java.util.regex).
_JAVA_CLASSES = {"w": "A-Za-z0-9_", "d": "0-9", "s": "\\t\\n\\x0B\\f\\r ", "S": "\\x00-\\x08\\x0E-\\x1F\\x21-\\U0010FFFF"}


def validate(operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """`body`, the JSON request of `operation`, with only the members the service's model names and
    that are not null (as AWS's JSON protocols read a request); Cognito's InvalidParameterException
    (or SerializationException) if the model refuses it."""
    shape = _input_shape(operation)
    if shape is None:
        return dict(body)
    problems = list(_check_structure(shape, body, ""))
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
        raise invalid_parameter(f"{count}: {'; '.join(problems)}")
    return {name: value for name, value in body.items() if name in shape.members and value is not None}


@functools.cache
def _model() -> Any:
    return botocore.session.get_session().get_service_model("cognito-idp")


def _input_shape(operation: str) -> StructureShape | None:
    if operation not in _model().operation_names:
        return None
    shape = _model().operation_model(operation).input_shape
    return shape if isinstance(shape, StructureShape) else None


def _check_structure(shape: StructureShape, value: Mapping[str, Any], path: str) -> Iterator[str]:
    for name, member in shape.members.items():
        member_path = f"{path}.{name[0].lower()}{name[1:]}" if path else f"{name[0].lower()}{name[1:]}"
        if value.get(name) is None:
            if name in shape.required_members:
                yield f"Value null at '{member_path}' failed to satisfy constraint: Member must not be null"
            continue
        yield from _check(member, value[name], member_path)


def _check(shape: Shape, value: Any, path: str) -> Iterator[str]:
    _check_type(shape, value, path)
    failed = [f"Member must {rule}" for rule in _rules(shape, value)]
    if failed:
        shown = "Value" if shape.metadata.get("sensitive") else f"Value '{_java_string(value)}'"
        yield from (f"{shown} at '{path}' failed to satisfy constraint: {rule}" for rule in failed)
    if isinstance(shape, StructureShape):
        yield from _check_structure(shape, value, path)
    elif isinstance(shape, ListShape):
        for index, item in enumerate(value, start=1):
            yield from _check(shape.member, item, f"{path}.{index}.member")
    elif isinstance(shape, MapShape):  # the service names the map, not the entry
        for key, item in value.items():
            _check_type(shape.key, key, path)
            _check_type(shape.value, item, path)
        for part, member, items in (("keys", shape.key, value.keys()), ("value", shape.value, value.values())):
            broken = sorted({f"Member must {rule}" for item in items for rule in _rules(member, item)})
            if broken:
                yield f"Value at '{path}' failed to satisfy constraint: Map {part} must satisfy constraint: [{', '.join(broken)}]"


def _check_type(shape: Shape, value: Any, path: str) -> None:
    expected = _JSON_TYPES.get(shape.type_name, (object,))
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        raise CognitoError("SerializationException", f"Unexpected value type at '{path}'.")


def _rules(shape: Shape, value: Any) -> Iterator[str]:
    """The model's constraints `value` breaks, worded as the service words them."""
    bounds = shape.metadata
    if isinstance(value, (str, list, dict)) and not isinstance(shape, StructureShape):
        if "min" in bounds and len(value) < bounds["min"]:
            yield f"have length greater than or equal to {bounds['min']}"
        if "max" in bounds and len(value) > bounds["max"]:
            yield f"have length less than or equal to {bounds['max']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "min" in bounds and value < bounds["min"]:
            yield f"have value greater than or equal to {bounds['min']}"
        if "max" in bounds and value > bounds["max"]:
            yield f"have value less than or equal to {bounds['max']}"
    if isinstance(value, str):
        if "pattern" in bounds and _pattern(bounds["pattern"]).fullmatch(value) is None:
            yield f"satisfy regular expression pattern: {bounds['pattern']}"
        if bounds.get("enum") and value not in bounds["enum"]:
            yield f"satisfy enum value set: [{', '.join(bounds['enum'])}]"


@functools.cache
def _pattern(java_pattern: str) -> regex.Pattern[str]:
    """A java.util.regex pattern of the model (\\p{L} and the like) as `regex` reads it."""
    translated, in_class, index = [], False, 0
    while index < len(java_pattern):
        char = java_pattern[index]
        if char == "\\" and index + 1 < len(java_pattern):
            escaped = java_pattern[index + 1]
            if escaped in _JAVA_CLASSES:
                ranges = _JAVA_CLASSES[escaped]
                translated.append(ranges if in_class else f"[{ranges}]")
            else:
                translated.append(java_pattern[index : index + 2])
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        translated.append(char)
        index += 1
    return regex.compile("".join(translated))


def _java_string(value: Any) -> str:
    """How the service prints a value in its message (Java's toString)."""
    if isinstance(value, list):
        return f"[{', '.join(_java_string(v) for v in value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
