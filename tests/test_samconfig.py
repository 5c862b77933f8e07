"""samconfig.toml: no deployed environment lets a magic link point at the user's own machine.

The template has no default AllowedRedirectOrigins (a deployment must name its pages; the local user
pool adds its own origin). A deployed stack allowing loopback would email links to whatever listens
on that port of the reader's machine, so every environment that deploys (`sam deploy`, `sam sync`)
sets AllowedRedirectOrigins itself, to entries that are not loopback. Only an
environment named for local use (`local`, `local-...`) is exempt, and so are the `local_*` commands
(`sam local invoke` ...), which deploy nothing.
"""

from __future__ import annotations

import ipaddress
import shlex
import tomllib
from pathlib import Path

import pytest

from keyless.signin.redirects import parse_allowlist
from localpool.template import Template

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
DEPLOYING = ("deploy", "sync")  # the SAM CLI commands that create or update a stack


def is_local_environment(name: str) -> bool:
    return name == "local" or name.startswith(("local-", "local_"))


ENVIRONMENTS = sorted(name for name, value in CONFIG.items() if isinstance(value, dict))
DEPLOYED = [name for name in ENVIRONMENTS if not is_local_environment(name)]


def parameter_overrides(environment: str, command: str) -> dict[str, str] | None:
    """What `sam <command> --config-env <environment>` passes as parameter overrides: the command's own
    parameter_overrides, else the environment's global one (the SAM CLI's precedence), parsed."""
    env = CONFIG[environment]
    raw = env.get(command, {}).get("parameters", {}).get("parameter_overrides")
    if raw is None:
        raw = env.get("global", {}).get("parameters", {}).get("parameter_overrides")
    if raw is None:
        return None
    tokens = shlex.split(raw) if isinstance(raw, str) else [str(token) for token in raw]
    overrides = {}
    for token in tokens:
        if token.startswith("ParameterKey="):  # ParameterKey=Name,ParameterValue=value
            key, _, value = token.removeprefix("ParameterKey=").partition(",ParameterValue=")
        else:
            key, _, value = token.partition("=")
        assert key and _, f"{environment}.{command}: cannot read parameter override {token!r}"
        overrides[key] = value
    return overrides


def loopback_entries(value: str) -> list[str]:
    """The entries of an AllowedRedirectOrigins value whose host is this machine."""
    found = []
    for entry in parse_allowlist(value):
        host = entry.host.strip("[]")
        try:
            loopback = ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_unspecified
        except ValueError:
            loopback = host == "localhost" or host.endswith(".localhost")
        if loopback:
            found.append(f"{entry.scheme}://{entry.host}:{entry.port}{entry.path}")
    return found


def test_the_file_has_environments_and_the_template_makes_a_deployment_name_its_pages():
    assert {"default", "staging", "production"} <= set(ENVIRONMENTS)
    spec = Template().body["Parameters"]["AllowedRedirectOrigins"]
    assert "Default" not in spec and spec["AllowedPattern"] == ".+"


@pytest.mark.parametrize("environment", DEPLOYED)
def test_every_deployed_environment_sets_its_own_redirects(environment):
    commands = [command for command in DEPLOYING if command in CONFIG[environment]]
    assert "deploy" in commands, f"[{environment}] has no deploy section"
    for command in commands:
        overrides = parameter_overrides(environment, command)
        assert overrides and overrides.get("AllowedRedirectOrigins"), (
            f"[{environment}.{command}] must set AllowedRedirectOrigins; the template's default is the local pool's"
        )


@pytest.mark.parametrize("environment", DEPLOYED)
def test_no_deployed_environment_allows_a_loopback_redirect(environment):
    for command in CONFIG[environment]:
        if command.startswith("local_"):
            continue  # sam local ... deploys nothing
        overrides = parameter_overrides(environment, command) or {}
        if "AllowedRedirectOrigins" in overrides:
            value = overrides["AllowedRedirectOrigins"]
            assert not loopback_entries(value), f"[{environment}.{command}] allows {loopback_entries(value)}"


@pytest.mark.parametrize(
    "value, found",
    [
        ("http://localhost:9229", ["http://localhost:9229"]),
        ("http://127.0.0.1:9229/cb", ["http://127.0.0.1:9229/cb"]),
        ("http://[::1]:3000", ["http://[::1]:3000"]),
        ("https://app.example.com, http://localhost:1", ["http://localhost:1"]),
        ("https://app.example.com,https://b.example.com/x", []),
    ],
)
def test_the_loopback_check_itself(value, found):
    assert loopback_entries(value) == found


@pytest.mark.parametrize(
    "raw",
    [
        'SenderEmail="a@example.com" AllowedRedirectOrigins="http://localhost:9229,https://x.example.com"',
        ["SenderEmail=a@example.com", "AllowedRedirectOrigins=http://localhost:9229"],
        "ParameterKey=AllowedRedirectOrigins,ParameterValue=http://localhost:9229",
    ],
)
def test_the_override_reader_reads_every_form_the_sam_cli_accepts(raw, monkeypatch):
    monkeypatch.setitem(CONFIG, "probe", {"deploy": {"parameters": {"parameter_overrides": raw}}})
    assert loopback_entries(parameter_overrides("probe", "deploy")["AllowedRedirectOrigins"]) == ["http://localhost:9229"]
