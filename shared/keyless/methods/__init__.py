"""The sign-in methods: a line each here, and a module each beside it with all of the method's logic.

A method's module offers:
  issue(Issue) -> Issued            the proof a sign-in email carries (stored as keyed hashes) and the
                                    secret that goes in the email (Issue, Issued: keyless.signin.proof)
  FIELDS                            the sign-in item's fields its proof uses (a new email replaces them)
  email_kind(with_link) -> str      which email template carries it
  public_parameters(item, flow, settings, attempts_left) -> dict
                                    what the client is shown once the email is sent
  verify(event, flow, runtime) -> Verdict
                                    whether an answer is this sign-in's proof (VerifyAuthChallengeResponse)
  recognizes(answer) -> bool        the answer has this method's shape (a round that takes several
                                    methods' answers hands it to the one that recognizes it)
  pending_until(item, now) -> int   until when the proof the item holds still works (0: none does),
                                    for an operator's status and sign-out (keyless_admin)
A method that sends no email (sends_email False: the passkey) answers round 1 instead
(answers_round_one): its module offers round_one(event, runtime) -> (public, private) parameters
and verify; FIELDS is empty and it issues nothing.

This package's own module is pure data, so DefineAuthChallenge reads it without loading any method's
code (or boto3), nor defining records only CreateAuthChallenge uses. Adding a method: its module, its line in METHODS, and its name in the template's
SignInMethods.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Method:
    name: str  # as clients name it: ClientMetadata signInMethod, the SignInMethods setting, the step
    module: str  # keyless.methods.<module>
    claim: str  # the sign_in_method claim of a sign-in this method proved
    asks_again: bool  # a wrong answer gets another round (up to MaxCodeAttempts) instead of ending the sign-in
    guessable: bool  # its answers count against the user's wrong-answer budget; over it, none is sent
    sent_metric: str  # the metric counting its emails
    refused: str  # the metric's reason when the sign-in fails on this method's answers
    in_every_email: bool = False  # its proof is in every sign-in email while offered: any email's round takes it
    sends_email: bool = True  # its proof goes by email (SIGN_IN_METHODS lists these); else it has none to send
    answers_round_one: bool = False  # the answer to round 1 is its proof (no email, no further round)

    def logic(self) -> ModuleType:
        return importlib.import_module(f"keyless.methods.{self.module}")


MAGIC_LINK = Method(
    "MAGIC_LINK",
    "magic_link",
    claim="magic_link",
    asks_again=False,
    guessable=False,
    sent_metric="MagicLinksSent",
    refused="link_rejected",
    in_every_email=True,
)
EMAIL_OTP = Method(
    "EMAIL_OTP",
    "email_otp",
    claim="email_otp",
    asks_again=True,
    guessable=True,
    sent_metric="CodesSent",
    refused="code_attempts_exhausted",
)
PASSKEY = Method(
    "FIDO2",  # the name AWS's passwordless sample and its client (amazon-cognito-passwordless-auth) use
    "passkey",
    claim="passkey",
    asks_again=False,
    guessable=False,
    sent_metric="",
    refused="passkey_rejected",
    sends_email=False,
    answers_round_one=True,
)
METHODS = {method.name: method for method in (MAGIC_LINK, EMAIL_OTP, PASSKEY)}
NAMES = tuple(METHODS)
EMAIL_NAMES = tuple(name for name, method in METHODS.items() if method.sends_email)


__all__ = [
    "EMAIL_NAMES",
    "EMAIL_OTP",
    "MAGIC_LINK",
    "METHODS",
    "NAMES",
    "PASSKEY",
    "Method",
    "email_otp",
    "magic_link",
    "passkey",
]
