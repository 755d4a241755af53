"""The WeCom HTTP API: one client (errcodes, token refresh, pagination) and its domain groups."""
