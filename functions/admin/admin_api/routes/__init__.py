"""The admin routes, one router per domain: parse (the model) → service → response.

Route functions carry no return annotation: Powertools would take it for a response model and validate the
answer against it; the answers are the services' documents, documented per status with ``responses=``.
"""
