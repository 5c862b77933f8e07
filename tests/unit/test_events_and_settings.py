import copy
import json
from pathlib import Path

import pytest

from keyless.core import events
from keyless.core.errors import MalformedEvent
from keyless.core.settings import ConfigurationError
from keyless.core.settings.sign_in import SendSettings

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "events/create_auth_challenge/send_code.json").read_text())
CREATE = ("CreateAuthChallenge_Authentication",)


def mutated(path, value):
    event = copy.deepcopy(SAMPLE)
    target = event
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


def test_sample_parses():
    parsed = events.parse(SAMPLE, CREATE)
    assert parsed.email == "jane.doe@example.com" and not parsed.email_verified
    assert parsed.session[0].step == "CHOOSE_METHOD" and parsed.session[0].flow


@pytest.mark.parametrize(
    "path, value",
    [
        (("triggerSource",), "PreSignUp_SignUp"),
        (("triggerSource",), KeyError),
        (("triggerSource",), None),
        (("request",), None),
        (("request",), []),
        (("request",), KeyError),
        (("userName",), 42),
        (("userName",), "x" * 300),
        (("userPoolId",), None),
        (("request", "userAttributes"), ["email"]),
        (("request", "userAttributes", "email"), 7),
        (("request", "userAttributes", "email"), "a" * 5000),
        (("request", "clientMetadata"), "signInMethod=EMAIL_OTP"),
        (("request", "clientMetadata", "signInMethod"), ["EMAIL_OTP"]),
        (("request", "userNotFound"), "false"),
        (("request", "session"), {"0": {}}),
        (("request", "session"), [None]),
        (("request", "session"), [{"challengeName": 1}]),
        (("request", "session"), [{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": "true"}]),
        (("request", "session"), [{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": False}] * 65),
        (("request", "challengeAnswer"), {"a": 1}),
    ],
)
def test_malformed_events_are_refused_with_a_safe_message(path, value):
    with pytest.raises(MalformedEvent) as excinfo:
        events.parse(mutated(path, value), CREATE)
    assert str(excinfo.value) == "Invalid request"


@pytest.mark.parametrize("event", [None, [], "event", 1, {}])
def test_not_an_event(event):
    with pytest.raises(MalformedEvent):
        events.parse(event, CREATE)


def test_nulls_mean_empty():
    event = mutated(("request", "clientMetadata"), None)
    event["request"]["userNotFound"] = None
    event["request"]["session"] = None
    parsed = events.parse(event, CREATE)
    assert parsed.client_metadata == {} and parsed.session == () and parsed.user_not_found is False


def test_foreign_challenge_metadata_is_not_ours():
    event = mutated(
        ("request", "session"), [{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": False, "challengeMetadata": "OTHER:x"}]
    )
    assert events.parse(event, CREATE).session[0].step is None


BASE_ENV = {
    "TABLE_NAME": "t",
    "SIGNING_KEY_SECRET_ID": "s",
    "PSEUDONYM_KEY_SECRET_ID": "p",
    "SENDER_EMAIL": "no-reply@example.com",
    "ALLOWED_REDIRECT_ORIGINS": "https://app.example.com",
}


def test_settings_defaults():
    s = SendSettings.from_env(BASE_ENV)
    assert (s.link_lifetime_seconds, s.code_length, s.max_code_attempts, s.email_cooldown_seconds) == (900, 6, 3, 60)
    assert s.methods == ("MAGIC_LINK", "EMAIL_OTP")


@pytest.mark.parametrize(
    "override",
    [
        {"TABLE_NAME": ""},
        {"SIGNING_KEY_SECRET_ID": " "},
        {"PSEUDONYM_KEY_SECRET_ID": ""},
        {"CODE_LENGTH": "5"},
        {"CODE_LENGTH": "9"},
        {"CODE_LENGTH": "six"},
        {"MAX_CODE_ATTEMPTS": "0"},
        {"SIGN_IN_METHODS": "SMS"},
        {"SIGN_IN_METHODS": ""},
        {"ALLOWED_REDIRECT_ORIGINS": ""},
        {"ALLOWED_REDIRECT_ORIGINS": "https://app.example.com/path?x=1"},
        {"ALLOWED_REDIRECT_ORIGINS": "http://app.example.com"},
    ],
)
def test_misconfiguration_fails_fast(override):
    with pytest.raises(ConfigurationError):
        SendSettings.from_env({**BASE_ENV, **override})


def test_codes_only_needs_no_redirect_origins():
    s = SendSettings.from_env({**BASE_ENV, "ALLOWED_REDIRECT_ORIGINS": "", "SIGN_IN_METHODS": "EMAIL_OTP"})
    assert s.methods == ("EMAIL_OTP",)
