"""pydantic v2 models of the admin API's bodies, queries and answers; every limit comes from the layer
constant that defines it (never a second copy of a number)."""
