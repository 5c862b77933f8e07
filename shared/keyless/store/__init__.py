"""The one DynamoDB table: its keys, its attribute codec, and one store per kind of item."""

__all__ = ["sign_in"]
