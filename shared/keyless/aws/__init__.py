"""What the functions talk to, built lazily: the clients (runtime), sign-in emails (mailer),
SES's bounce and complaint events (email_events), the signing and pseudonym keys (signing_keys), the
authenticator apps' key ring (authenticator_keys), their rotation (key_rotation), and the user pool
(directory).
Nothing here is imported by DefineAuthChallenge or PreSignUp, which load no boto3.
"""

__all__ = ["authenticator_keys", "directory", "email_events", "key_rotation", "mailer", "runtime", "signing_keys"]
