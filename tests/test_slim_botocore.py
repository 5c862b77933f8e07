"""The layer ships only the part of botocore's data the functions use (shared/slim_botocore.py, run
by shared/Makefile): the operations are exactly what template.yaml grants the functions, and clients
built on the slimmed data have those operations, with the same shapes and endpoints as botocore's own
data, and no other service or operation."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import botocore
import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config
from moto import mock_aws

from localpool.template import Template
from tests.test_iam import granted_actions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))
from slim_botocore import OPERATIONS, slim  # a build script beside shared/Makefile, not in the keyless package

BOTOCORE_DATA = Path(botocore.__file__).parent / "data"
REGIONS = ("us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1")


def session(data: Path | None = None) -> botocore.session.Session:
    """A botocore session on botocore's own data, or only on `data` (as the layer's botocore has it)."""
    made = botocore.session.Session()
    if data is not None:
        made.register_component("data_loader", botocore.loaders.Loader([str(data)], include_default_search_paths=False))
    made.set_credentials("testing", "testing")
    return made


@pytest.fixture(scope="module")
def slimmed(tmp_path_factory) -> Path:
    """botocore's data, as the layer build leaves it: the kept services and one more (removed)."""
    data = tmp_path_factory.mktemp("botocore") / "data"
    data.mkdir()
    for path in BOTOCORE_DATA.iterdir():
        if path.is_file():
            shutil.copy(path, data)
    for service in [*OPERATIONS, "sqs"]:
        shutil.copytree(BOTOCORE_DATA / service, data / service)
    slim(data)
    return data


def test_the_kept_operations_are_exactly_what_the_template_grants_the_functions():
    """tests/test_iam.py proves the grants are exactly the calls the code makes: so are these."""
    full = session()
    kept = {f"{full.get_service_model(s).signing_name}:{op}" for s, operations in OPERATIONS.items() for op in operations}
    granted = set().union(*(granted_actions(logical_id) for logical_id in Template().functions()))
    # IAM authorizes a transaction by the actions of its items (PutItem, UpdateItem, DeleteItem), which
    # test_iam.py records as such: the operation itself is no action.
    assert kept - {"dynamodb:TransactWriteItems"} == granted


def shape_of(shape, seen: frozenset = frozenset()) -> object:
    """A shape as botocore uses it (type, constraints, serialization, members), without documentation."""
    if shape is None:
        return None
    if shape.name in seen:
        return shape.name
    seen = seen | {shape.name}
    described: dict = {"type": shape.type_name, "metadata": shape.metadata, "serialization": shape.serialization}
    for part in ("members", "member", "key", "value"):
        if part == "members" and shape.type_name == "structure":
            described[part] = {name: shape_of(member, seen) for name, member in shape.members.items()}
        elif hasattr(shape, part) and part != "members":
            described[part] = shape_of(getattr(shape, part), seen)
    return described


@pytest.mark.parametrize("service", sorted(OPERATIONS))
def test_a_client_on_the_slimmed_data_has_the_kept_operations_as_botocore_defines_them(slimmed, service):
    full, slim_model = session().get_service_model(service), session(slimmed).get_service_model(service)
    assert slim_model.operation_names == sorted(OPERATIONS[service])
    assert slim_model.metadata == full.metadata
    for name in OPERATIONS[service]:
        ours, theirs = slim_model.operation_model(name), full.operation_model(name)
        assert (ours.http, ours.auth_type, ours.endpoint_discovery) == (theirs.http, theirs.auth_type, theirs.endpoint_discovery)
        for part in ("input_shape", "output_shape"):
            assert shape_of(getattr(ours, part)) == shape_of(getattr(theirs, part))
        assert [shape_of(e) for e in ours.error_shapes] == [shape_of(e) for e in theirs.error_shapes]
    for region in REGIONS:
        config = Config(region_name=region)
        ours, theirs = session(slimmed).create_client(service, config=config), session().create_client(service, config=config)
        assert ours.meta.endpoint_url == theirs.meta.endpoint_url
        assert ours.meta.config.signature_version == theirs.meta.config.signature_version


def test_nothing_else_is_left(slimmed):
    slim_session = session(slimmed)
    assert slim_session.get_available_services() == sorted(OPERATIONS)
    with pytest.raises(botocore.exceptions.UnknownServiceError):
        slim_session.create_client("sqs", region_name="us-east-1")
    assert not hasattr(slim_session.create_client("dynamodb", region_name="us-east-1"), "scan")
    # The custom resource pages through a pool's app clients.
    assert slim_session.create_client("cognito-idp", region_name="us-east-1").can_paginate("list_user_pool_clients")
    kept = {"service-2.json", "service-2.sdk-extras.json", "endpoint-rule-set-1.json", "paginators-1.json"}
    assert {p.name for p in slimmed.glob("*/*/*")} <= kept
    assert [p.parent.name for p in slimmed.glob("*/*")] == [p.name for p in slimmed.glob("*") if p.is_dir()]  # one version


def test_a_call_goes_through_on_the_slimmed_data(slimmed):
    with mock_aws():
        session().create_client("dynamodb", region_name="us-east-1").create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb = session(slimmed).create_client("dynamodb", region_name="us-east-1")
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        assert dynamodb.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}, "n": {"N": "1"}}
        with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
            dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)")
