"""The user"s profile: provisioning (PostConfirmation, and the token-time self-heal) and the claims
it puts in the tokens (PreTokenGeneration).
"""

__all__ = ["claims", "provisioning"]
