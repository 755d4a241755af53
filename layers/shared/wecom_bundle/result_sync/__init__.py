"""Result sync: delivery data of every mass-send task WeCom knows, from WeCom into DynamoDB.

The domain owns the msgid's sync schedule (the due index), its member and result items, and the aggregates
written onto chunks and campaigns (docs/data-model.md, "Result sync"). Modules:

- ``fanout``: the scheduled run (ingest, then claim and queue every due msgid);
- ``ingest``: tasks created outside the product (``get_groupmsg_list_v2``) stored as campaigns of one chunk;
- ``sync_pass``: one msgid's pass (task pages, result pages, changed rows only, aggregates), run by the worker;
- ``queue``: the SQS message of one pass;
- ``cadence``: when a msgid is due again;
- ``budget``: the pass's time and WeCom-call budget, back-off;
- ``totals``: recounts of members and results, status names;
- ``repo``: the DynamoDB access patterns, one function each (no Scan);
- ``deps``: ``SyncDeps``, the collaborators the services receive (repositories, queue, WeCom client, page
  size, clock, sleep), built by ``runtime.sync_deps``.

No re-exports: import the module that holds the code.
"""
