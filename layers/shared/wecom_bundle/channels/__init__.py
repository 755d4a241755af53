"""Channels (渠道活码): WeCom 「联系我」 QR codes whose ``state`` is the channel id, with their own welcome and tags.

Modules: ``model`` (the stored item's shape, statuses, limits, the empty stats), ``validation`` (a PUT body's
rules across fields), ``repo`` (the channel items: one function per access pattern), ``service``
(``ChannelService``: PUT/GET/list/DELETE for the admin API, the intent before ``add_contact_way`` and its
repair), ``reconcile`` (``ChannelReconciler``: WeCom's contact ways against ours).
"""
