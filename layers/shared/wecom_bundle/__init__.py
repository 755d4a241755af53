"""wecom_bundle: the shared package of the WeCom customer-messaging SAM bundle.

Handlers in ``functions/`` stay thin and call into this package. Modules are imported lazily by the
handlers that need them, so the callback hot path pays only for crypto, XML and its DynamoDB calls.
"""
