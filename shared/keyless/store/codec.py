"""The table's attribute values, both ways: one codec for every item (sign-in state, mailboxes,
profiles, attachments). Numbers come back as int when whole, float otherwise (DynamoDB's numbers
are decimals); booleans, strings, lists, maps and null as themselves. Pure Python: no boto3."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

KEY_FIELDS = ("pk", "sk")


def to_attribute(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, (float, Decimal)):
        if (isinstance(value, float) and not math.isfinite(value)) or (isinstance(value, Decimal) and not value.is_finite()):
            raise ValueError("DynamoDB stores no infinite or NaN number")
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attribute(item) for item in value]}
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("map keys must be strings")
        return {"M": {key: to_attribute(item) for key, item in value.items()}}
    raise TypeError(f"{type(value).__name__} is not stored")


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    if "S" in attribute:
        return attribute["S"]
    if "N" in attribute:
        number = Decimal(attribute["N"])
        return int(number) if number == number.to_integral_value() else float(number)
    if "L" in attribute:
        return [from_attribute(item) for item in attribute["L"]]
    if "M" in attribute:
        return {key: from_attribute(item) for key, item in attribute["M"].items()}
    if "BOOL" in attribute:
        return bool(attribute["BOOL"])
    return None  # NULL, or a type this table never holds


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: to_attribute(value) for name, value in values.items()}


def from_item(item: Mapping[str, Any] | None) -> dict[str, Any]:
    """An item's fields, without its keys."""
    return {name: from_attribute(attribute) for name, attribute in (item or {}).items() if name not in KEY_FIELDS}


def refused_item(exc: BaseException) -> dict[str, Any]:
    """The fields of the item a conditional write was refused on (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    response = getattr(exc, "response", None)
    item = response.get("Item") if isinstance(response, Mapping) else None
    return from_item(item if isinstance(item, Mapping) else None)


def expression_names(*fields: str) -> dict[str, str]:
    """ExpressionAttributeNames for these fields (#field -> field)."""
    return {f"#{name}": name for name in fields}
