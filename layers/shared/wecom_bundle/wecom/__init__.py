"""The WeCom HTTP API: one client (errcodes, token refresh, pagination) and its domain groups.

``client`` is the transport; ``token_store`` keeps one access token per corp app shared through DynamoDB (its
record read and written by ``token_repo``); ``errcodes`` and ``errors`` are what WeCom answers; ``welcome``,
``groupmsg``, ``media`` and ``group_templates`` each own one API area's paths.
"""
