"""Who may sign up (PreSignUp), and the list of disposable email domains (data/)."""

__all__ = ["rules"]
