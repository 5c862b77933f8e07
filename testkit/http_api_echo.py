"""A Lambda function for an HTTP API route, for the tests of the local pool's API Gateway
(tests/test_local_pool_http_api.py adds it to the template): it answers with the event it was given,
or, by path, with what a function may answer that API Gateway has to read."""

from __future__ import annotations

import json
import threading

released = threading.Event()  # /slow waits for it (the test sets it once it has seen the timeout)


def handler(event: dict, context: object) -> object:
    answers: dict[str, object] = {
        "/plain": {"just": "json"},
        "/unreadable": {"statusCode": "two hundred"},
        "/cookies": {
            "statusCode": 201,
            "headers": {"X-Answer": "yes", "Access-Control-Allow-Origin": "https://evil.example"},
            "cookies": ["a=1", "b=2"],
            "body": "made",
        },
    }
    path = event["rawPath"]
    if path == "/boom":
        raise RuntimeError("the function failed")
    if path == "/slow":
        released.wait(60)
    if path in answers:
        return answers[path]
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
