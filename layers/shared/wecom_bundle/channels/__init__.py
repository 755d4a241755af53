"""Channels (渠道活码): WeCom 「联系我」 contact ways whose ``state`` is the channel's id, with their own welcome
and tags, and what each channel brings in.

Modules: ``lookup`` (the callback's in-memory reader of one channel by ``State``: hot path), ``arrivals``
(after a channel's welcome: the arrival marker, the day counters, tags with ``mark_tag``; losses from the
``del_follow_user`` / ``del_external_contact`` callbacks), ``stats`` (the 30-day reader behind
``runtime.channel_stats_reader()``, day keys), ``stats_repo`` (arrival markers and counters in DynamoDB).
The admin side (model, validation, repository, service, reconcile) lives beside them.

Empty on purpose: importing the package imports no sub-module (the callback's cold import must not grow).
"""
