"""The CUSTOM_AUTH rounds, whatever the method: DefineAuthChallenge (define), CreateAuthChallenge
(create), VerifyAuthChallengeResponse (verify) and what every method's verdict goes through once
accepted (proof); the keyed pseudonyms of users and mailboxes; the redirect allowlist.
"""

__all__ = ["create", "define", "proof", "pseudonyms", "redirects", "verify"]
