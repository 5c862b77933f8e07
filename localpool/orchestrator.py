"""Cognito's CUSTOM_AUTH flow, as the Cognito Developer Guide documents it, run on this machine.

InitiateAuth -> DefineAuthChallenge (session []) -> CreateAuthChallenge -> challenge to the client.
RespondToAuthChallenge -> VerifyAuthChallengeResponse -> one entry appended to the session ->
DefineAuthChallenge -> another round, tokens, or "Incorrect username or password.".

Around the rounds, when the pool fills those slots: PreAuthentication once per InitiateAuth, before
the first DefineAuthChallenge (its ClientMetadata as validationData), and PostAuthentication once
DefineAuthChallenge issues tokens, before PreTokenGeneration. A raise in either refuses the sign-in.

What Cognito does and this reproduces: every answer carries a new session string, usable once and
only for the app client's AuthSessionValidity; InitiateAuth's ClientMetadata reaches none of the
challenge triggers, RespondToAuthChallenge's reaches all of them; with PreventUserExistenceErrors an
unknown user runs the same rounds with userNotFound = true. The triggers are called through
TriggerRunner (timeouts, retries, error shapes) with events shaped like Cognito's.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from localpool.errors import CognitoError, invalid_lambda_response, invalid_parameter, not_authorized
from localpool.triggers import TriggerRunner

CUSTOM_CHALLENGE = "CUSTOM_CHALLENGE"
MAX_STAND_INS = 10_000  # stand-in names remembered, newest kept
SDK_VERSION = "aws-sdk-unknown-unknown"
SESSION_EXPIRED = "Invalid session for the user, session is expired."


@dataclass(frozen=True)
class PoolUser:
    user_name: str  # Cognito's own name for the user (the sub, in a pool that signs in with email)
    attributes: Mapping[str, str]
    status: str = "CONFIRMED"
    enabled: bool = True
    groups: tuple[str, ...] = ()


class Directory(Protocol):
    def find(self, username: str) -> PoolUser | None: ...


class TokenIssuer(Protocol):
    def issue(self, user: PoolUser, client_id: str, trigger_source: str, client_metadata: Mapping[str, str]) -> dict: ...


@dataclass(frozen=True)
class AppClient:
    client_id: str
    prevent_user_existence_errors: bool = True
    auth_session_validity_minutes: int = 3
    explicit_auth_flows: tuple[str, ...] = ("ALLOW_CUSTOM_AUTH",)
    write_attributes: tuple[str, ...] | None = None  # None: the client names none (all may be written)

    def check_flow(self, flow: str) -> None:
        """InitiateAuth's AuthFlow must be one the client's ExplicitAuthFlows allows."""
        if f"ALLOW_{flow}" not in self.explicit_auth_flows:
            raise invalid_parameter(f"{flow} flow not enabled for this client")


@dataclass
class AuthSession:
    client_id: str
    user_name: str  # the triggers' userName: Cognito's name for the user, or what an unknown user typed
    user_not_found: bool
    expires_at: float
    public_name: str = ""  # ChallengeParameters.USERNAME (user_name unless a stand-in hides an unknown user)
    entries: list[dict] = field(default_factory=list)
    private_parameters: dict = field(default_factory=dict)
    challenge_metadata: str | None = None


class CustomAuth:
    def __init__(
        self,
        pool_id: str,
        region: str,
        directory: Directory,
        run_trigger: TriggerRunner,
        tokens: TokenIssuer,
        clock: Callable[[], float] = time.time,
        uuid_user_names: bool = False,
    ):
        """uuid_user_names: the pool's users sign in with an email address (UsernameAttributes) and
        Cognito names them with a UUID, which ChallengeParameters.USERNAME shows."""
        self.pool_id = pool_id
        self.region = region
        self.directory = directory
        self._run = run_trigger
        self._tokens = tokens
        self._clock = clock
        self._sessions: dict[str, AuthSession] = {}
        self._lock = threading.Lock()
        self._uuid_user_names = uuid_user_names
        self._stand_in_key = secrets.token_bytes(32)
        self._session_key = secrets.token_bytes(32)
        self._stood_in_for: dict[str, str] = {}  # stand-in -> the name it stands for

    # --- the two API calls -------------------------------------------------------------------

    def initiate_auth(self, client: AppClient, username: str, client_metadata: Mapping[str, str] | None = None) -> dict:
        """InitiateAuth or AdminInitiateAuth (AuthFlow=CUSTOM_AUTH). Its ClientMetadata reaches only
        PreAuthentication (as validationData): Cognito gives it to none of the custom auth triggers."""
        client.check_flow("CUSTOM_AUTH")
        if not username:
            raise invalid_parameter("Missing required parameter USERNAME")
        user = self.directory.find(username)
        if user is None:
            # A stand-in typed back is the name it stands for, as a known user's USERNAME is the user,
            # while that name has no account; once it has one, the stand-in is a name of its own.
            original = self._stood_in_for.get(username.lower())
            if original is not None and self.directory.find(original) is None:
                username = original
        if user is None and not client.prevent_user_existence_errors:
            raise CognitoError("UserNotFoundException", "User does not exist.")
        if user is not None:
            self._check_can_sign_in(user)
        session = AuthSession(
            client_id=client.client_id,
            user_name=user.user_name if user else username,
            user_not_found=user is None,
            expires_at=self._session_expiry(client),
        )
        session.public_name = self.stand_in_name(username) if user is None and self._uuid_user_names else session.user_name
        self._pre_authentication(session, user, client_metadata)
        return self._next(client, session, user, {})

    def stand_in_name(self, username: str) -> str:
        """What Cognito documents for an unknown user of the SRP flow: "the same ... internal user id
        in UUID format for the same user name and user pool combination", so an unknown address
        gets a USERNAME shaped like a known one's (a version 4 UUID). Keyed per pool, so it cannot
        be computed outside; spelled as the directory matches names (in any case)."""
        message = f"{self.pool_id}\n{username.casefold()}".encode()
        digest = hmac.new(self._stand_in_key, message, hashlib.sha256).digest()
        name = str(uuid.UUID(bytes=digest[:16], version=4))
        with self._lock:
            if len(self._stood_in_for) >= MAX_STAND_INS:
                self._stood_in_for.pop(next(iter(self._stood_in_for)))  # the oldest
            self._stood_in_for[name] = username
        return name

    def respond_to_auth_challenge(
        self,
        client: AppClient,
        session_token: str,
        challenge_name: str,
        responses: Mapping[str, str],
        client_metadata: Mapping[str, str],
    ) -> dict:
        if challenge_name != CUSTOM_CHALLENGE:
            raise invalid_parameter(f"Unsupported challenge name {challenge_name}")
        session = self._take_session(session_token, client)
        username, answer = responses.get("USERNAME"), responses.get("ANSWER")
        if not username:
            raise invalid_parameter("Missing required parameter USERNAME")
        if answer is None:
            raise invalid_parameter("Missing required parameter ANSWER")
        user = None if session.user_not_found else self.directory.find(session.user_name)
        if not session.user_not_found:
            if user is None:
                raise not_authorized()
            self._check_can_sign_in(user)
        response = self._run(
            "VerifyAuthChallengeResponse",
            self._event(
                "VerifyAuthChallengeResponse_Authentication",
                session,
                user,
                {
                    "privateChallengeParameters": dict(session.private_parameters),
                    "challengeAnswer": answer,
                    "clientMetadata": dict(client_metadata),
                    "userNotFound": session.user_not_found,
                },
                {"answerCorrect": False},
            ),
        )
        correct = response.get("answerCorrect")
        if not isinstance(correct, bool):
            raise invalid_lambda_response()
        session.entries.append(
            {"challengeName": CUSTOM_CHALLENGE, "challengeResult": correct, "challengeMetadata": session.challenge_metadata}
        )
        return self._next(client, session, user, client_metadata)

    # --- the rounds ----------------------------------------------------------------------------

    def _next(self, client: AppClient, session: AuthSession, user: PoolUser | None, client_metadata: Mapping[str, str]) -> dict:
        decision = self._run(
            "DefineAuthChallenge",
            self._event(
                "DefineAuthChallenge_Authentication",
                session,
                user,
                {
                    "session": [dict(e) for e in session.entries],
                    "clientMetadata": dict(client_metadata),
                    "userNotFound": session.user_not_found,
                },
                {"challengeName": None, "issueTokens": None, "failAuthentication": None},
            ),
        )
        if decision.get("issueTokens") is True and not decision.get("failAuthentication"):
            if user is None:
                raise not_authorized()
            # The triggers may have changed the user (Verify sets email_verified): tokens show it now.
            user = self.directory.find(user.user_name) or user
            self._post_authentication(session, user, client_metadata)
            return {
                "ChallengeParameters": {},
                "AuthenticationResult": self._tokens.issue(
                    user, client.client_id, "TokenGeneration_Authentication", client_metadata
                ),
            }
        if decision.get("failAuthentication") is True or decision.get("challengeName") != CUSTOM_CHALLENGE:
            raise not_authorized()
        created = self._run(
            "CreateAuthChallenge",
            self._event(
                "CreateAuthChallenge_Authentication",
                session,
                user,
                {
                    "challengeName": CUSTOM_CHALLENGE,
                    "session": [dict(e) for e in session.entries],
                    "clientMetadata": dict(client_metadata),
                    "userNotFound": session.user_not_found,
                },
                {"publicChallengeParameters": None, "privateChallengeParameters": None, "challengeMetadata": None},
            ),
        )
        public, private = created.get("publicChallengeParameters") or {}, created.get("privateChallengeParameters") or {}
        metadata = created.get("challengeMetadata")
        if not is_string_map(public) or not is_string_map(private) or not (metadata is None or isinstance(metadata, str)):
            raise invalid_lambda_response()
        session.private_parameters, session.challenge_metadata = dict(private), metadata
        session.expires_at = self._session_expiry(client)
        token = self._store_session(session)
        return {
            "ChallengeName": CUSTOM_CHALLENGE,
            "Session": token,
            "ChallengeParameters": {**public, "USERNAME": session.public_name or session.user_name},
        }

    def _pre_authentication(self, session: AuthSession, user: PoolUser | None, client_metadata: Mapping[str, str] | None) -> None:
        """Once per sign-in, not per round. Its answer carries nothing Cognito reads: only a raise counts."""
        if not self._run.has("PreAuthentication"):
            return
        request = {"validationData": dict(client_metadata) if client_metadata else None, "userNotFound": session.user_not_found}
        self._run("PreAuthentication", self._event("PreAuthentication_Authentication", session, user, request, {}))

    def _post_authentication(self, session: AuthSession, user: PoolUser, client_metadata: Mapping[str, str]) -> None:
        """No newDeviceUsed: Cognito sets it only for pools that remember devices, which this one does not."""
        if not self._run.has("PostAuthentication"):
            return
        request = {"clientMetadata": dict(client_metadata)}
        self._run("PostAuthentication", self._event("PostAuthentication_Authentication", session, user, request, {}))

    def _event(self, source: str, session: AuthSession, user: PoolUser | None, request: dict, response: dict) -> dict:
        request = {"userAttributes": _event_attributes(user), **request}
        return trigger_event(source, self.pool_id, self.region, session.user_name, session.client_id, request, response)

    # --- sessions ----------------------------------------------------------------------------------

    def _session_expiry(self, client: AppClient) -> float:
        return self._clock() + client.auth_session_validity_minutes * 60

    def _store_session(self, session: AuthSession) -> str:
        """A session string that still says when it expired once its session is purged, as Cognito's
        do (they carry their own expiry): random, then the expiry and a MAC of both under a process key."""
        nonce, expiry = secrets.token_urlsafe(96), str(math.ceil(session.expires_at * 1000))  # milliseconds
        token = f"{nonce}.{expiry}.{self._session_mac(nonce, expiry)}"
        with self._lock:
            now = self._clock()
            for stale in [t for t, s in self._sessions.items() if s.expires_at <= now]:
                del self._sessions[stale]
            self._sessions[token] = session
        return token

    def _take_session(self, token: str, client: AppClient) -> AuthSession:
        """Each session string works once: the next answer gets a new one."""
        with self._lock:
            session = self._sessions.pop(token or "", None)
        if session is None and self._expired_by_its_own_word(token):
            raise not_authorized(SESSION_EXPIRED)
        if session is None or session.client_id != client.client_id:
            raise not_authorized("Invalid session for the user.")
        if session.expires_at <= self._clock():
            raise not_authorized(SESSION_EXPIRED)
        return session

    def _expired_by_its_own_word(self, token: str) -> bool:
        """A purged session string of this pool whose expiry has passed."""
        nonce, _, rest = (token or "").partition(".")
        expiry, _, mac = rest.partition(".")
        if not hmac.compare_digest(mac.encode(), self._session_mac(nonce, expiry).encode()):
            return False
        try:
            return int(expiry) <= self._clock() * 1000
        except ValueError:
            return False

    def _session_mac(self, nonce: str, expiry: str) -> str:
        return hmac.new(self._session_key, f"{nonce}.{expiry}".encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _check_can_sign_in(user: PoolUser) -> None:
        if not user.enabled:
            raise not_authorized("User is disabled.")
        if user.status == "UNCONFIRMED":
            raise CognitoError("UserNotConfirmedException", "User is not confirmed.")


def _event_attributes(user: PoolUser | None) -> dict:
    if user is None:
        return {}
    return {**user.attributes, "cognito:user_status": user.status}


def trigger_event(
    source: str, pool_id: str, region: str, user_name: str, client_id: str, request: dict, response: dict, version: str = "1"
) -> dict:
    """The event Cognito gives a user pool trigger (the fields every trigger source shares)."""
    return {
        "version": version,
        "region": region,
        "userPoolId": pool_id,
        "userName": user_name,
        "callerContext": {"awsSdkVersion": SDK_VERSION, "clientId": client_id},
        "triggerSource": source,
        "request": request,
        "response": response,
    }


def is_string_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
