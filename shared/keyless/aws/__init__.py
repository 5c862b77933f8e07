"""What the functions talk to, built lazily: the clients (runtime), sign-in emails (mailer),
SES's bounce and complaint events (email_events), the signing keys, and the user pool (directory).
Nothing here is imported by DefineAuthChallenge or PreSignUp, which load no boto3.
"""

__all__ = ["directory", "email_events", "mailer", "runtime", "signing_keys"]
