"""Attaching Keyless to a user pool it did not create: the CloudFormation custom resource."""

__all__ = ["pool"]
