"""Channels (渠道活码): WeCom 「联系我」 contact ways whose ``state`` is the channel's id, with their own welcome
and tags, and what each channel brings in.

Admin side: ``model`` (the stored item's shape, statuses, limits), ``validation`` (a PUT body's rules across
fields), ``repo`` (the channel items: one function per access pattern), ``service`` (``ChannelService``:
PUT/GET/list/DELETE, the intent before ``add_contact_way`` and its repair), ``reconcile``
(``ChannelReconciler``: WeCom's contact ways against ours).

Callback side: ``lookup`` (the in-memory reader of one channel by ``State``: hot path), ``arrivals`` (after a
channel's welcome: the arrival marker, the day counters, tags with ``mark_tag``; losses from the
``del_follow_user`` / ``del_external_contact`` callbacks), ``stats`` (the 30-day reader behind
``runtime.channel_stats_reader()``, day keys), ``stats_repo`` (arrival markers and counters in DynamoDB).

Empty on purpose: importing the package imports no sub-module (the callback's cold import must not grow).
"""
