"""Mass-send campaigns: everything from ``POST /admin/campaigns`` to the last reminder.

The domain owns the campaign record, its chunk intents, audience and fail-list parts, the msgid registry
entries it creates, and the reminder ledger (docs/data-model.md, "Campaigns"). Modules:

- ``create``: validate, store the intent (idempotent), send now or leave it ``scheduled``;
- ``send``: one ``add_msg_template`` call per chunk under the campaign's lease; the scheduled resumption;
- ``repair``: link a task whose answer was lost back to its chunk (content fingerprint, attempt window);
- ``cancel``: ``cancelled`` first, then ``cancel_groupmsg_send`` for every msgid;
- ``queries``: one campaign as operators see it, and the listing;
- ``results``: synced per-customer rows (pages, CSV) and per-member stats (reads only);
- ``reminders`` and ``reminder_policy``: manual and scheduled reminders, 3 per msgid per 24 h;
- ``validation``: the create body, checked once where it enters;
- ``preview``: what a create with a body would do (audience, chunks, the cap), calling and storing nothing;
- ``cap``: ``CapCheck``, the per-customer mass-send cap as previews and ``skip_capped`` creates ask it;
- ``repo`` and ``reminder_repo``: the DynamoDB access patterns, one function each (no Scan);
- ``deps``: ``CampaignDeps``, the collaborators every service function receives (repositories, WeCom
  client, clock, sleep, chunk and part sizes), built by ``runtime.campaign_deps``;
- ``limits``: sizes, timeouts and pacing the modules share.

No re-exports: import the module that holds the code.
"""
