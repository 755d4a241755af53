"""The public ``/callback`` route's domain, the hot path: WeCom's encrypted callbacks in, events dispatched.

Modules: ``service`` (verify, decrypt, freshness, dispatch to the handlers it is given; the only module here
that speaks HTTP statuses, the callback contract's own), ``keys`` (the current, previous and re-read callback
keys), ``crypto`` (WXBizMsgCrypt, byte-compatible with Tencent's samples), ``xml_parser`` (hardened XML:
envelopes and events), ``fields`` (event fields validated once, where they enter) and ``events``
(``HANDLERS`` by event type; the add-contact one hands over to ``wecom_bundle.welcome``).

Empty on purpose: importing the package imports no sub-module (the callback's cold import must not grow).
"""
