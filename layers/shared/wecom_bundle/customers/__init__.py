"""Customers: one customer's mass-send history and WeCom's per-customer cap, known before a campaign is sent.

Modules: ``periods`` (the cap's period of an epoch second: month, ISO week or day in the corp's time zone),
``tally`` (what a stored result row counts: the per-customer counter and pending entries the result sync
adds and removes), ``repo`` (the customer's items and index, one function per access pattern), ``quota``
(``QuotaReader``, ``capped_among``: the cap from key lookups in batches), ``history`` (the operators' view of
one customer: welcomes, mass messages, quota).
"""
