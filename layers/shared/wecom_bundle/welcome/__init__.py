"""1:1 welcomes: the welcome rules, the instant welcome of each new customer, and the welcome log.

Modules: ``service`` (claim → rule → content → send → record, within the welcome code's 20 s), ``claim``
(the event's dedupe key, its claim and lease: nothing is sent twice), ``rules`` (rule validation, matching
and the in-memory rule cache), ``admin`` (the operators' rule and log operations behind the admin API) and
``repo`` (the rules', events' and log's DynamoDB access patterns, one function each).

Empty on purpose: importing the package imports no sub-module (the callback's cold import must not grow).
"""
