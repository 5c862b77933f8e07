"""Cognito's error shapes: the client sees `__type` and `message`."""

from __future__ import annotations

from http import HTTPStatus


class CognitoError(Exception):
    def __init__(self, error_type: str, message: str, status: int = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status

    def as_body(self) -> dict:
        return {"__type": self.error_type, "message": self.message}


def not_authorized(message: str = "Incorrect username or password.") -> CognitoError:
    return CognitoError("NotAuthorizedException", message)


def invalid_parameter(message: str) -> CognitoError:
    return CognitoError("InvalidParameterException", message)


def invalid_lambda_response(message: str = "Unrecognizable lambda output") -> CognitoError:
    return CognitoError("InvalidLambdaResponseException", message)


def code_mismatch() -> CognitoError:
    return CognitoError("CodeMismatchException", "Invalid verification code provided, please try again.")
