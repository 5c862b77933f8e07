"""template.yaml, read as CloudFormation would: the functions, their handlers and environment, and
which function sits in which user pool trigger slot. What runs locally is what deploys."""

from __future__ import annotations

import copy
import functools
import importlib.util
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localpool.triggers import Handler

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...) as their long forms."""


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected {type(node).__name__}", node.start_mark)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@functools.lru_cache(maxsize=8)
def _parsed(path: Path, mtime_ns: int, size: int) -> dict:
    """The template's body, parsed once per version of the file: parsing takes a quarter of a second,
    and every local deployment (most tests) reads it. Callers get a deep copy (a few milliseconds)."""
    # bandit B506 (unsafe yaml.load) does not apply: _CfnLoader is a SafeLoader.
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # nosec B506


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    environment: Mapping[str, Any]
    memory_size: int
    timeout: int


NO_VALUE = object()  # AWS::NoValue: the property or list item is left out


class ParameterError(ValueError):
    """A parameter value CloudFormation would refuse before creating anything."""


def check_parameter(name: str, value: str, spec: Mapping[str, Any]) -> None:
    """CloudFormation's checks of a parameter value against its declaration (Type Number with
    MinValue/MaxValue; AllowedValues; AllowedPattern; MinLength/MaxLength), so the local pool refuses
    what a deployment would (AuthSessionValidity=1, say) instead of running with it."""
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise ParameterError(f"Parameter '{name}' must be a number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise ParameterError(f"Parameter '{name}' must be a number not less than {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise ParameterError(f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}")
        return
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        raise ParameterError(f"Parameter '{name}' must be one of AllowedValues")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise ParameterError(f"Parameter '{name}' must contain at most {spec['MaxLength']} characters")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise ParameterError(f"Parameter '{name}' must contain at least {spec['MinLength']} characters")
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        raise ParameterError(f"Parameter '{name}' must match pattern {spec['AllowedPattern']}")


class Template:
    def __init__(self, path: Path = TEMPLATE, parameters: Mapping[str, str] | None = None):
        self.path = path
        stat = path.stat()
        self.body = copy.deepcopy(_parsed(path, stat.st_mtime_ns, stat.st_size))
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in self.body.get("Parameters", {}).items()}
        self.set_parameters(parameters or {})
        self.resources: dict = self.body["Resources"]

    def set_parameters(self, parameters: Mapping[str, str]) -> None:
        """Give parameters values, each checked against its declaration as CloudFormation checks it."""
        specs = self.body.get("Parameters", {})
        for name, value in parameters.items():
            if name in specs:
                check_parameter(name, str(value), specs[name])
        self.parameters.update(parameters)

    def functions(self) -> dict[str, FunctionSpec]:
        globals_ = self.body.get("Globals", {}).get("Function", {})
        specs = {}
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            props = resource["Properties"]
            env = dict(globals_.get("Environment", {}).get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_uri=self.path.parent / props["CodeUri"],
                handler=props["Handler"],
                environment=env,
                memory_size=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
                timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
            )
        return specs

    def exists(self, logical_id: str) -> bool:
        """Whether CloudFormation creates the resource: its Condition, if it has one, holds."""
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def resources_of_type(self, resource_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == resource_type}

    def trigger_slots(self, pool_logical_id: str = "UserPool") -> dict[str, str]:
        """Slot name (DefineAuthChallenge, ...) -> logical id of the function in it."""
        config = self.resources[pool_logical_id]["Properties"].get("LambdaConfig", {})
        slots = {}
        for slot, target in config.items():
            if isinstance(target, dict) and "Fn::GetAtt" in target:
                slots[slot] = target["Fn::GetAtt"][0]
            elif slot == "PreTokenGenerationConfig" and isinstance(target, dict):
                arn = target.get("LambdaArn", {})
                if isinstance(arn, dict) and "Fn::GetAtt" in arn:
                    slots["PreTokenGeneration"] = arn["Fn::GetAtt"][0]
        return slots

    def resolve(self, value: Any, physical: Mapping[str, str], region: str = "us-east-1", account: str = "000000000000") -> Any:
        """A property's value with parameters and the given resources' physical names filled in."""
        pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws", "AWS::StackName": "keyless-local"}

        def lookup(name: str) -> str:
            if name in self.parameters:
                return self.parameters[name]
            if name in pseudo:
                return pseudo[name]
            if name in physical:
                return physical[name]
            raise KeyError(f"template reference {name} has no local value")

        if isinstance(value, dict) and len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else lookup(arg)
            if fn == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false, physical, region, account)
            if fn == "Fn::GetAtt":
                return physical.get(f"{arg[0]}.{arg[1]}") or lookup(arg[0])
            if fn == "Fn::Split":
                delimiter, source = arg
                return str(self.resolve(source, physical, region, account)).split(delimiter)
            if fn == "Fn::Join":
                separator, items = arg
                parts = (self.resolve(item, physical, region, account) for item in items)
                return separator.join(str(part) for part in parts if part is not NO_VALUE)
            if fn == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1] if len(arg) > 1 else {})
                given = {name: str(self.resolve(v, physical, region, account)) for name, v in variables.items()}
                return re.sub(r"\$\{([^}!]+)\}", lambda m: given[m.group(1)] if m.group(1) in given else lookup(m.group(1)), text)
        if isinstance(value, dict):
            resolved = {k: self.resolve(v, physical, region, account) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [v for v in (self.resolve(v, physical, region, account) for v in value) if v is not NO_VALUE]
        return value

    def condition(self, name: str) -> bool:
        """A condition of the template's Conditions section, evaluated with the parameters."""
        return self._evaluate(self.body.get("Conditions", {})[name])

    def _evaluate(self, expression: Any) -> bool:
        ((fn, arg),) = expression.items()
        if fn in ("Condition", "Fn::Condition"):  # the long form, and what the short tag !Condition loads as
            return self.condition(arg)
        if fn == "Fn::Equals":
            left, right = (self.resolve(side, {}) for side in arg)
            return str(left) == str(right)
        if fn == "Fn::Not":
            return not self._evaluate(arg[0])
        if fn == "Fn::And":
            return all(self._evaluate(item) for item in arg)
        if fn == "Fn::Or":
            return any(self._evaluate(item) for item in arg)
        raise ValueError(f"condition function {fn} is not supported locally")


def load_handler(spec: FunctionSpec) -> Handler:
    """The function's handler, imported from its CodeUri as Lambda would (module.function)."""
    module_name, _, function_name = spec.handler.rpartition(".")
    path = spec.code_uri / f"{module_name.replace('.', '/')}.py"
    unique = f"keyless_function_{spec.logical_id}"
    module_spec = importlib.util.spec_from_file_location(unique, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, function_name)
