"""The CUSTOM_AUTH rounds, whatever the method: DefineAuthChallenge (define), CreateAuthChallenge
(create), VerifyAuthChallengeResponse (verify); the keyed pseudonyms of users and mailboxes; the
redirect allowlist.
"""

__all__ = ["create", "define", "pseudonyms", "redirects", "verify"]
