"""One module per sign-in method: how its proof is made and checked.
"""

__all__ = ["email_otp", "magic_link"]
