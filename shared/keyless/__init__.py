"""Keyless: passwordless sign-in (magic links and email codes) for Amazon Cognito user pools."""
