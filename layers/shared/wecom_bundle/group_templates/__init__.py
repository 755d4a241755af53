"""Group welcome templates (群欢迎语素材): WeCom holds them, DynamoDB mirrors them.

This domain owns the admin API's ``/admin/group-welcome-templates`` routes and ``wecomctl group-templates``:
- ``service``: create / get / list / edit / delete (validate → WeCom → mirror), WeCom refusals as domain errors;
- ``validation``: the template body (text ≤ 3000 bytes, at most one non-text part, ``%NICKNAME%`` spelling);
- ``media``: bucket references in a template, resolved to the ids WeCom stores, and the media refresh's
  re-pointing of stored templates at fresh ids;
- ``reconcile``: drift between WeCom and the mirror, and its repair (the mirror follows WeCom);
- ``repo``: the mirror's DynamoDB access patterns (records and add intents, one partition).

Empty on purpose: importing the package imports none of its modules.
"""
