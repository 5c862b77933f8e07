"""PreSignUp: the sign-up rules, through the template's own handler and Cognito's exact events."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyless.core import errors
from keyless.core.settings import ConfigurationError
from keyless.core.settings.sign_up import SignUpSettings
from keyless.signup import rules as signup_rules
from localpool.errors import CognitoError
from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext, TriggerRunner

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = {p.stem: json.loads(p.read_text()) for p in (ROOT / "events" / "pre_sign_up").glob("*.json")}
SOURCES = {
    "PreSignUp_SignUp": "sign_up",
    "PreSignUp_AdminCreateUser": "admin_create_user",
    "PreSignUp_ExternalProvider": "external_provider",
}
TEMPLATE = Template()
SPEC = TEMPLATE.functions()["PreSignUpFunction"]
CYRILLIC_A = "\u0430"  # looks like the Latin "a"


@pytest.fixture
def handler(monkeypatch):
    """The deployed function with the template's default environment; rules() changes it."""
    for name, value in SPEC.environment.items():
        if isinstance(value, dict) and "Ref" in value:
            monkeypatch.setenv(name, TEMPLATE.parameters[value["Ref"]])
    signup_rules.default_rules.cache_clear()
    signup_rules.address_rules.cache_clear()
    yield load_handler(SPEC)
    signup_rules.default_rules.cache_clear()
    signup_rules.address_rules.cache_clear()


@pytest.fixture
def rules(monkeypatch):
    def configure(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        signup_rules.default_rules.cache_clear()

    signup_rules.address_rules.cache_clear()

    return configure


def event_for(email: str | None, source: str = "PreSignUp_SignUp") -> dict:
    event = copy.deepcopy(SAMPLES[SOURCES[source]])
    if email is None:
        del event["request"]["userAttributes"]["email"]
    else:
        event["request"]["userAttributes"]["email"] = email
    return event


def call(handler, event: dict) -> dict:
    return handler(event, LambdaContext(function_name="PreSignUp"))["response"]


def refusal(handler, event: dict) -> str:
    with pytest.raises(errors.UserFacingError) as caught:
        call(handler, event)
    assert not isinstance(caught.value, errors.TemporarilyUnavailable)
    return str(caught.value)


# --- who gets in, and how ------------------------------------------------------------------------


def test_a_passwordless_sign_up_is_confirmed_but_its_address_is_not_verified(handler):
    original = event_for("alice@example.com")
    result = handler(copy.deepcopy(original), LambdaContext(function_name="PreSignUp"))
    assert result["response"] == {"autoConfirmUser": True, "autoVerifyEmail": False, "autoVerifyPhone": False}
    assert {k: v for k, v in result.items() if k != "response"} == {k: v for k, v in original.items() if k != "response"}


@pytest.mark.parametrize(
    "source, confirmed",
    [("PreSignUp_SignUp", True), ("PreSignUp_ExternalProvider", True), ("PreSignUp_AdminCreateUser", False)],
)
def test_each_trigger_source_gets_the_flags_cognito_honours(handler, source, confirmed):
    response = call(handler, event_for("alice@example.com", source))
    assert response == {"autoConfirmUser": confirmed, "autoVerifyEmail": False, "autoVerifyPhone": False}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_each_trigger_source_gets_the_same_rules(handler, rules, source):
    rules(SIGN_UP_BLOCKED_DOMAINS="example.org", SIGN_UP_ALLOW_PLUS_ALIASES="false")
    assert refusal(handler, event_for("x@mailinator.com", source)) == errors.DISPOSABLE_EMAIL
    assert refusal(handler, event_for("x@example.org", source)) == errors.DOMAIN_NOT_ALLOWED
    assert refusal(handler, event_for("x+tag@example.com", source)) == errors.PLUS_ALIAS
    assert call(handler, event_for("x@example.com", source))["autoVerifyEmail"] is False


def as_cognito_reports(handler, address: str) -> tuple[CognitoError, TriggerRunner]:
    """The error a client gets when PreSignUp refuses `address`, run as Cognito runs the trigger."""
    runner = TriggerRunner({"PreSignUp": handler})
    with pytest.raises(CognitoError) as caught:
        runner("PreSignUp", event_for(address))
    assert caught.value.error_type == "UserLambdaValidationException"
    return caught.value, runner


def test_the_refusal_reaches_the_client_as_cognito_words_it(handler):
    refused, runner = as_cognito_reports(handler, "someone@mailinator.com")
    assert refused.message == "PreSignUp failed with error Disposable email addresses are not accepted."
    assert runner.calls == ["PreSignUp"], "a refusal is not retried"


# --- allowed and blocked domains -----------------------------------------------------------------


def test_allowed_domains_admit_only_those_domains(handler, rules):
    rules(SIGN_UP_ALLOWED_DOMAINS="example.com, Partner.ORG")
    assert call(handler, event_for("alice@example.com"))["autoConfirmUser"] is True
    assert call(handler, event_for("bob@partner.org"))["autoConfirmUser"] is True
    for address in ("eve@example.net", "eve@mail.example.com", "eve@notexample.com", "eve@example.com.evil.io"):
        assert refusal(handler, event_for(address)) == errors.DOMAIN_NOT_ALLOWED, address


def test_a_wildcard_admits_subdomains_only(handler, rules):
    rules(SIGN_UP_ALLOWED_DOMAINS="*.corp.example")
    assert call(handler, event_for("a@eu.corp.example"))["autoConfirmUser"] is True
    assert call(handler, event_for("a@mail.eu.corp.example"))["autoConfirmUser"] is True
    assert refusal(handler, event_for("a@corp.example")) == errors.DOMAIN_NOT_ALLOWED
    assert refusal(handler, event_for("a@evilcorp.example")) == errors.DOMAIN_NOT_ALLOWED


def test_blocked_domains_and_their_subdomains_are_refused(handler, rules):
    rules(SIGN_UP_BLOCKED_DOMAINS="competitor.com,ru")
    assert refusal(handler, event_for("spy@competitor.com")) == errors.DOMAIN_NOT_ALLOWED
    assert refusal(handler, event_for("spy@mail.competitor.com")) == errors.DOMAIN_NOT_ALLOWED
    assert refusal(handler, event_for("ivan@yandex.ru")) == errors.DOMAIN_NOT_ALLOWED
    assert call(handler, event_for("fan@notcompetitor.com"))["autoConfirmUser"] is True
    assert call(handler, event_for("fan@competitor.com.au"))["autoConfirmUser"] is True


def test_blocking_wins_over_allowing(handler, rules):
    rules(SIGN_UP_ALLOWED_DOMAINS="*.example.com", SIGN_UP_BLOCKED_DOMAINS="guests.example.com")
    assert call(handler, event_for("a@staff.example.com"))["autoConfirmUser"] is True
    assert refusal(handler, event_for("a@guests.example.com")) == errors.DOMAIN_NOT_ALLOWED


# --- case, whitespace, aliases, look-alikes ------------------------------------------------------


@pytest.mark.parametrize("address", ["  Alice@Example.COM ", "ALICE@EXAMPLE.COM", "\talice@example.com\n"])
def test_case_and_surrounding_whitespace_do_not_matter(handler, rules, address):
    rules(SIGN_UP_ALLOWED_DOMAINS="EXAMPLE.com")
    assert call(handler, event_for(address))["autoConfirmUser"] is True


@pytest.mark.parametrize("address", ["Someone@MAILINATOR.com", " someone@Mailinator.Com ", "x@EU.mailinator.com"])
def test_case_and_whitespace_do_not_get_past_a_blocklist(handler, rules, address):
    rules(SIGN_UP_BLOCKED_DOMAINS=" Example.ORG ")
    assert refusal(handler, event_for(address)) == errors.DISPOSABLE_EMAIL
    assert refusal(handler, event_for(address.lower().replace("mailinator.com", "EXAMPLE.org"))) == errors.DOMAIN_NOT_ALLOWED


def test_plus_aliases_are_accepted_unless_switched_off(handler, rules):
    assert call(handler, event_for("alice+news@example.com"))["autoConfirmUser"] is True
    rules(SIGN_UP_ALLOW_PLUS_ALIASES="false")
    assert refusal(handler, event_for("alice+news@example.com")) == errors.PLUS_ALIAS
    assert refusal(handler, event_for("ALICE+@Example.com ")) == errors.PLUS_ALIAS
    assert call(handler, event_for("alice.news@example.com"))["autoConfirmUser"] is True


@pytest.mark.parametrize(
    "address",
    [
        f"admin@ex{CYRILLIC_A}mple.com",  # a Cyrillic look-alike of an allowed domain
        "admin@ｅｘａｍｐｌｅ.ｃｏｍ",  # fullwidth letters (NFKC folds them to example.com)
        "admin@example.com\u200b",  # a zero-width space after the domain
        f"{CYRILLIC_A}dmin@example.com",  # non-ASCII local part: no sign-in email could reach it
        "admin@exa\u0301mple.com",  # a combining accent
    ],
)
def test_unicode_look_alikes_are_refused(handler, rules, address):
    rules(SIGN_UP_ALLOWED_DOMAINS="example.com")
    assert refusal(handler, event_for(address)) == errors.INVALID_EMAIL
    rules(SIGN_UP_ALLOWED_DOMAINS="")
    assert refusal(handler, event_for(address)) == errors.INVALID_EMAIL


def test_a_look_alike_in_its_ascii_form_is_a_different_domain(handler, rules):
    look_alike = f"ex{CYRILLIC_A}mple.com".encode("idna").decode()
    assert look_alike.startswith("xn--")
    rules(SIGN_UP_ALLOWED_DOMAINS="example.com")
    assert refusal(handler, event_for(f"admin@{look_alike}")) == errors.DOMAIN_NOT_ALLOWED


def test_an_internationalised_domain_can_be_configured_in_unicode(handler, rules):
    rules(SIGN_UP_ALLOWED_DOMAINS="bücher.de")
    assert call(handler, event_for("leser@xn--bcher-kva.de"))["autoConfirmUser"] is True
    assert refusal(handler, event_for("leser@bucher.de")) == errors.DOMAIN_NOT_ALLOWED


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        "alice",
        "alice@",
        "@example.com",
        "alice@example",
        "Alice <alice@example.com>",
        "a@b@example.com",
        "alice@example.com, bob@example.com",
        "alice@example.com\r\nBcc: x@evil.com",
        "alice@exam ple.com",
    ],
)
def test_what_is_not_a_plain_address_is_refused(handler, address):
    assert refusal(handler, event_for(address)) == errors.INVALID_EMAIL


# Addresses a mail system would rewrite, reroute or read as something else (identity.is_deliverable).
REWRITTEN = [
    "=?utf-8?q?alice?=@example.com",  # an RFC 2047 encoded word: decoded, it is another address
    "=?utf-8?b?YWxpY2VAZXZpbC5jb20=?=@example.com",  # ... that one decodes to alice@evil.com
    "alice@.example.com",
    "alice@example..com",
    "alice@example.com.",
    "alice@-example.com",
    '"alice bob"@example.com',
    '"alice"@example.com',
    "alice(comment)@example.com",
    "alice@[127.0.0.1]",
    "alice@localhost",
    "alice@127.0.0.1",
    "victim%evil.com@example.com",
    "evil.com!victim@example.com",
    ".alice@example.com",
    "alice..bob@example.com",
    "alice\x00@example.com",
    "alice@example\u3002com",
    "alice@" + "x" * 64 + ".com",
    "a" * 65 + "@example.com",
]


@pytest.mark.parametrize("address", REWRITTEN)
def test_addresses_mail_software_would_rewrite_are_refused(handler, address):
    assert refusal(handler, event_for(address)) == errors.INVALID_EMAIL


@pytest.mark.parametrize(
    "address",
    ["a@.corp.com", "a@x..corp.com", "a@..corp.com", "a@x.corp.com.", "a@-x.corp.com", "=?utf-8?q?a?=@x.corp.com"],
)
def test_a_wildcard_domain_admits_no_malformed_subdomain(handler, rules, address):
    rules(SIGN_UP_ALLOWED_DOMAINS="*.corp.com")
    assert call(handler, event_for("a@x.corp.com"))["autoConfirmUser"] is True
    assert refusal(handler, event_for(address)) == errors.INVALID_EMAIL


@pytest.mark.parametrize("address", ["a@corp.com.evil.com", "a@corp.com", "a@xcorp.com", "a@corp.com-evil.com", "a@corp.co"])
def test_a_wildcard_domain_admits_nothing_outside_it(handler, rules, address):
    rules(SIGN_UP_ALLOWED_DOMAINS="*.corp.com")
    assert refusal(handler, event_for(address)) == errors.DOMAIN_NOT_ALLOWED


def test_an_encoded_word_is_refused_as_cognito_words_it(handler):
    refused, _runner = as_cognito_reports(handler, "=?utf-8?q?alice?=@example.com")
    assert refused.message == "PreSignUp failed with error Enter a valid email address."


WILDCARD = signup_rules.SignUpRules(allowed_suffixes=(".corp.com",))


@pytest.mark.parametrize(
    "raw, kept",
    [("a@x.corp.com", "a@x.corp.com"), (" A@X.Corp.COM\n", "a@x.corp.com"), ("a.b+c@eu.x.corp.com", "a.b+c@eu.x.corp.com")],
)
def test_check_address_keeps_plain_subdomain_addresses(raw, kept):
    assert signup_rules.check_address(raw, WILDCARD) == kept


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("a@.corp.com", "invalid_address"),
        ("a@x..corp.com", "invalid_address"),
        ("a@x.corp.com.", "invalid_address"),
        ("=?utf-8?q?a?=@x.corp.com", "invalid_address"),
        ('"a"@x.corp.com', "invalid_address"),
        ("a%b@x.corp.com", "invalid_address"),
        ("a@corp.com.evil.com", "domain_not_allowed"),
        ("a@corp.com", "domain_not_allowed"),
        ("a@evilcorp.com", "domain_not_allowed"),
    ],
)
def test_check_address_refuses(raw, reason):
    with pytest.raises(signup_rules.SignUpRefused) as caught:
        signup_rules.check_address(raw, WILDCARD)
    assert caught.value.reason == reason
    assert str(caught.value) == (errors.INVALID_EMAIL if reason == "invalid_address" else errors.DOMAIN_NOT_ALLOWED)


# --- the disposable-domain list ------------------------------------------------------------------


def test_disposable_domains_are_refused_by_default(handler):
    for address in ("a@mailinator.com", "a@guerrillamail.com", "a@yopmail.com", "a@10minutemail.com", "a@sharklasers.com"):
        assert refusal(handler, event_for(address)) == errors.DISPOSABLE_EMAIL, address


def test_the_disposable_check_can_be_switched_off(handler, rules):
    rules(SIGN_UP_BLOCK_DISPOSABLE="false")
    assert call(handler, event_for("a@mailinator.com"))["autoConfirmUser"] is True


def test_the_operator_can_replace_the_list(handler, rules, tmp_path):
    replacement = tmp_path / "domains.txt"
    replacement.write_text("# ours\nthrowaway.test\n\nBurner.Example  # trailing comment\n")
    rules(DISPOSABLE_DOMAINS_FILE=str(replacement))
    assert refusal(handler, event_for("a@throwaway.test")) == errors.DISPOSABLE_EMAIL
    assert refusal(handler, event_for("a@x.burner.example")) == errors.DISPOSABLE_EMAIL
    assert call(handler, event_for("a@mailinator.com"))["autoConfirmUser"] is True


def test_the_bundled_list_is_real_and_clean():
    lines = [line.strip() for line in signup_rules.BUNDLED_DISPOSABLE_DOMAINS.read_text().splitlines()]
    domains = [line for line in lines if line and not line.startswith("#")]
    assert len(domains) >= 300
    assert len(set(domains)) == len(domains), "no duplicates"
    assert all(signup_rules.normalize_domain(d) == d for d in domains), "lower-case ASCII, one domain a line"
    assert {"mailinator.com", "guerrillamail.com", "yopmail.com", "10minutemail.com", "trashmail.com"} <= set(domains)
    assert not {"gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me"} & set(domains)


def test_a_missing_list_is_a_configuration_error_not_an_open_door(handler, rules, tmp_path):
    rules(DISPOSABLE_DOMAINS_FILE=str(tmp_path / "missing.txt"))
    with pytest.raises(errors.TemporarilyUnavailable):
        call(handler, event_for("a@example.com"))
    with pytest.raises(ConfigurationError, match="cannot be read"):
        signup_rules.SignUpRules.from_settings(
            SignUpSettings.from_env({"DISPOSABLE_DOMAINS_FILE": str(tmp_path / "missing.txt")})
        )


def test_a_bad_setting_is_logged_by_name_and_the_user_sees_the_generic_message(handler, rules, log_lines):
    rules(SIGN_UP_ALLOW_PLUS_ALIASES="yes")
    with pytest.raises(errors.TemporarilyUnavailable):
        call(handler, event_for("a@example.com"))
    line = next(json.loads(line) for line in log_lines.getvalue().splitlines() if '"configuration error"' in line)
    assert line["level"] == "ERROR" and line["detail"] == "SIGN_UP_ALLOW_PLUS_ALIASES must be true or false"


@pytest.mark.parametrize(
    "env",
    [
        {"SIGN_UP_ALLOW_PLUS_ALIASES": "yes"},
        {"SIGN_UP_BLOCK_DISPOSABLE": "1"},
        {"SIGN_UP_ALLOWED_DOMAINS": "exa mple.com"},
        {"SIGN_UP_BLOCKED_DOMAINS": "a..b"},
    ],
)
def test_bad_configuration_is_refused_clearly(env):
    with pytest.raises(ConfigurationError):
        signup_rules.SignUpRules.from_settings(SignUpSettings.from_env(env))


# --- malformed events ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update(triggerSource="PostConfirmation_ConfirmSignUp"),
        lambda e: e.pop("request"),
        lambda e: e.update(request=[]),
        lambda e: e["request"].update(userAttributes="alice@example.com"),
        lambda e: e["request"]["userAttributes"].update(email=["alice@example.com"]),
        lambda e: e["request"].update(clientMetadata={"k": 5}),
        lambda e: e.update(userName=None),
        lambda e: e.update(response="yes"),
    ],
)
def test_a_malformed_event_is_refused_not_crashed_on(handler, mutate):
    event = event_for("alice@example.com")
    mutate(event)
    assert refusal(handler, event) == errors.INVALID_REQUEST


def test_no_email_attribute_is_refused(handler):
    assert refusal(handler, event_for(None)) == errors.INVALID_EMAIL


def test_refusals_log_the_reason_but_never_the_address(handler, caplog):
    refusal(handler, event_for("very.private.person@mailinator.com"))
    (logged,) = [r for r in caplog.records if r.getMessage() == "sign-up refused"]
    assert logged.reason == "disposable_domain" and logged.source == "PreSignUp_SignUp"
    everything = " ".join(str(vars(r)) for r in caplog.records)
    assert "very.private.person" not in everything and "mailinator" not in everything


PROBE = """
import json, sys
sys.path[:0] = [{shared!r}, {code!r}]
from types import SimpleNamespace
import app
context = SimpleNamespace(function_name="pre-sign-up", memory_limit_in_mb=256, invoked_function_arn="arn", aws_request_id="1")
result = app.handler(json.load(open({event!r})), context)
assert result["response"]["autoConfirmUser"] is True, result
print(json.dumps(sorted(m for m in sys.modules if m == "boto3" or m.startswith(("boto3.", "botocore.session", "botocore.client", "aws_xray_sdk")))))
"""


def test_pre_sign_up_loads_no_boto3():
    """PreSignUp calls no AWS service: its cold start carries no SDK (a property, not a timing)."""
    probe = PROBE.format(
        shared=str(ROOT / "shared"), code=str(SPEC.code_uri), event=str(ROOT / "events/pre_sign_up/sign_up.json")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"POWERTOOLS_METRICS_NAMESPACE": "Keyless"}
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, env=env, timeout=60, check=True, cwd=ROOT
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
