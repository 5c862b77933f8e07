"""The one DynamoDB table: its keys (keys), its attribute codec (codec), and one store per kind of
item: sign-in state and mailbox budgets (sign_in), profiles (profiles), attached pools (attachments),
addresses that get no sign-in email for a while (suppressions), passkeys (passkeys)."""

__all__ = ["attachments", "codec", "keys", "passkeys", "profiles", "sign_in", "suppressions"]
