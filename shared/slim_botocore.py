"""Run by shared/Makefile on the layer's botocore (not shipped): keep only the parts of botocore's data
the functions use. A client's cold start is mostly botocore reading JSON: the list of ~400 service
folders, the endpoints of every service, and the service's whole model (every operation, with its
documentation), parsed into OrderedDicts. After this, botocore finds the four services the functions
build clients for, each with the operations they call and nothing else (README, Performance).

    python slim_botocore.py <layer>/botocore/data

The operations are the ones template.yaml grants the functions (tests/test_slim_botocore.py checks
both ways, and that clients built on the result have exactly these methods). A client of any other
service, or a call of any other operation, fails at once (UnknownServiceError, AttributeError).
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

# botocore service name -> the operations the functions call.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "dynamodb": ("BatchGetItem", "DeleteItem", "GetItem", "PutItem", "Query", "TransactWriteItems", "UpdateItem"),
    "secretsmanager": ("DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"),
    "sesv2": ("SendEmail",),
    "cognito-idp": (
        "AdminAddUserToGroup",
        "AdminSetUserPassword",
        "AdminUpdateUserAttributes",
        "AdminUserGlobalSignOut",
        "DescribeUserPool",
        "DescribeUserPoolClient",
        "ListUserPoolClients",
        "UpdateUserPool",
    ),
}
KEPT_FILES = ("service-2", "service-2.sdk-extras", "endpoint-rule-set-1", "paginators-1")


def read(path: Path) -> dict:
    data = path.read_bytes()
    return json.loads(gzip.decompress(data) if path.suffix == ".gz" else data)


def write(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, separators=(",", ":")))


def find(folder: Path, name: str) -> Path | None:
    """botocore reads name.json, else name.json.gz."""
    return next((p for p in (folder / f"{name}.json", folder / f"{name}.json.gz") if p.is_file()), None)


def latest_version(service: Path) -> Path:
    """The API version botocore picks: the newest folder that has a service model."""
    return max(folder for folder in service.iterdir() if find(folder, "service-2"))


def trimmed_model(model: dict, operations: tuple[str, ...]) -> dict:
    """The operations and the shapes they reach (inputs, outputs, errors), without documentation."""
    missing = sorted(set(operations) - set(model["operations"]))
    if missing:
        raise SystemExit(f"{model['metadata']['serviceId']} has no operation {', '.join(missing)}")
    kept_operations = {}
    wanted: list[str] = []
    for name in operations:
        operation = {k: v for k, v in model["operations"][name].items() if k not in ("documentation", "documentationUrl")}
        operation["errors"] = [{"shape": error["shape"]} for error in operation.get("errors", [])]
        wanted += [ref["shape"] for ref in (operation.get("input"), operation.get("output"), *operation["errors"]) if ref]
        kept_operations[name] = operation
    shapes: dict = {}
    while wanted:
        name = wanted.pop()
        if name in shapes:
            continue
        shape = {k: v for k, v in model["shapes"][name].items() if k != "documentation"}
        if "members" in shape:
            shape["members"] = {
                member: {k: v for k, v in ref.items() if k != "documentation"} for member, ref in shape["members"].items()
            }
            wanted += [ref["shape"] for ref in shape["members"].values()]
        wanted += [shape[part]["shape"] for part in ("member", "key", "value") if part in shape]
        shapes[name] = shape
    return {"version": model["version"], "metadata": model["metadata"], "operations": kept_operations, "shapes": shapes}


def slim(data: Path) -> None:
    prefixes = set()
    for service in sorted(p for p in data.iterdir() if p.is_dir()):
        if service.name not in OPERATIONS:
            shutil.rmtree(service)
            continue
        keep = latest_version(service)
        for folder in service.iterdir():
            if folder != keep:
                shutil.rmtree(folder)
        operations = OPERATIONS[service.name]
        for path in list(keep.iterdir()):
            name = path.name.removesuffix(".gz").removesuffix(".json")
            if name not in KEPT_FILES:
                path.unlink()
                continue
            content = read(path)
            if name == "service-2":
                content = trimmed_model(content, operations)
                prefixes.add(content["metadata"]["endpointPrefix"])
            elif name == "paginators-1":
                content["pagination"] = {k: v for k, v in content["pagination"].items() if k in operations}
            path.unlink()
            write(keep / f"{name}.json", content)  # plain JSON: no gunzip at each cold start
    missing = sorted(set(OPERATIONS) - {p.name for p in data.iterdir() if p.is_dir()})
    if missing:
        raise SystemExit(f"botocore has no data for {', '.join(missing)}")
    endpoints = read(data / "endpoints.json")
    for partition in endpoints["partitions"]:
        partition["services"] = {k: v for k, v in partition["services"].items() if k in prefixes}
    write(data / "endpoints.json", endpoints)


if __name__ == "__main__":
    slim(Path(sys.argv[1]))
