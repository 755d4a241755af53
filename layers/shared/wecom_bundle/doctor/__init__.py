"""The set-up checks (``POST /admin/doctor``, ``wecomctl doctor``), run from inside the stack so WeCom sees the
product's own egress: ``model`` (check names, one check's result, the answer), ``service`` (``Doctor``: the
checks with their time budgets), ``callback_probe`` (the signed URL-verification GET), ``repo`` (the table
answers)."""
