"""The management API (ManagementApiFunction, behind API Gateway's JWT authorizer): the route table
and its entry point (api), the HTTP request and response (http), who calls (caller), the errors it
answers (errors), and a module per kind of thing a user manages: their passkeys (passkeys)."""

__all__ = ["api", "caller", "errors", "http", "passkeys"]
