"""wecomctl: the operators' command line for the WeCom bundle's admin API.

It talks to the local stack (``make run``) by default and to a deployed stack with ``--api URL``, where every
request is SigV4-signed with the caller's AWS credentials (the admin API is ``AWS_IAM``-protected).
"""

__version__ = "0.1.0"
