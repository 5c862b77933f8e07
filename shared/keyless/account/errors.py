"""The management API's error answers: a status and a short message fit for the client. Anything
else raised in a route becomes 500 "Internal Server Error", with the details only in the logs."""

from __future__ import annotations

ID_TOKEN_REQUIRED = "Use your ID token to access this API"
SIGN_IN_AGAIN = "Sign in again to do this"
INTERNAL = "Internal Server Error"
NOT_FOUND = "Not Found"
VERIFY_ADDRESS = "Verify your email address first"


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def unauthorized() -> ApiError:
    return ApiError(401, ID_TOKEN_REQUIRED)


def forbidden() -> ApiError:
    return ApiError(403, SIGN_IN_AGAIN)


def not_found() -> ApiError:
    return ApiError(404, NOT_FOUND)
