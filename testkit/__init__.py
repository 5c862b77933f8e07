"""What the tests and the benchmarks share, so neither imports the other and no test imports
another test module: a hand-moved clock (clock); a local deployment of template.yaml on moto, in
process or served over HTTP (deployment); an app's client of a served pool and its refusals
(clients); the emails a run sent (mail); races made on purpose (concurrency); AWS failing on
purpose through botocore's event hooks (faults); the attach function's events and CloudFormation's
side of its answer (custom_resource); the headless browser (browser); and the X-Ray probe script
run in a process of its own (xray_probe).

Imported from the repository's root (pytest and `python -m bench` run there); not part of the
product's wheel. Nothing is imported here: `from testkit.mail import last_code`.
"""

__all__ = ["browser", "clients", "clock", "concurrency", "custom_resource", "deployment", "faults", "mail", "xray_probe"]
