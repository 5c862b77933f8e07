"""The Tracer of the functions that call AWS; it patches botocore so each AWS call is a subsegment."""

from aws_lambda_powertools import Tracer

tracer = Tracer()
