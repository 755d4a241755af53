"""Secrets Manager's GetSecretValue without an SDK: the endpoint, a SigV4 signature, one HTTPS request.

Why its own package: the callback's cold first answer reads the WeCom secret, and importing botocore and
loading its Secrets Manager model costs more than the rest of that answer (see docs/benchmarks.md, "Cold
start"). Nothing here is imported before the first secret read.
"""
