"""Keyless: passwordless sign-in (magic links, email codes and passkeys) for Amazon Cognito user pools."""

import sys

# botocore imports urllib3's pyOpenSSL shim whenever pyOpenSSL is installed, and the layer ships it for
# py_webauthn (the passkey path): every function that builds a client would load OpenSSL and
# cryptography at its cold start. Without the shim botocore takes the standard library's SSLContext,
# which is the one the shim hands it anyway (orig_util_SSLContext).
sys.modules.setdefault("urllib3.contrib.pyopenssl", None)  # type: ignore[arg-type]
