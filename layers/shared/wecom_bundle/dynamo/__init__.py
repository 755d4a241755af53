"""The DynamoDB plumbing shared by every access pattern: the client, the value codec, the table helpers and
the single-table key design (``keys``). Each domain's ``repo`` module (``welcome.repo``, ``campaigns.repo``,
``result_sync.repo`` …) builds its one-function-per-access-pattern API on these; nothing here knows about
welcomes, campaigns or syncs beyond the keys.

Empty on purpose: importing the package imports no sub-module (the callback hot path imports none of it).
"""
