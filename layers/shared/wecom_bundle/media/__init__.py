"""Bucket-backed media: S3 objects named by content (``s3_key`` / ``pic_s3_key``) sent to WeCom as media ids
that never expire for the sender.

This domain owns:
- ``cache``: bucket reference → WeCom media id (memory, then DynamoDB; upload under a lease when needed);
- ``bucket``: the media bucket (S3, read-only, lazy client);
- ``refresh``: the scheduled re-upload ahead of WeCom's 3-day expiry (``MediaRefreshFunction``), fed by the
  content holders' sources that the wiring (``runtime``) passes in;
- ``repo``: the media cache's DynamoDB access patterns (one item per object, the due index).

Empty on purpose: importing the package imports none of its modules (the callback path imports ``cache``
only).
"""
