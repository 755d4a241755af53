"""JSON input files (rules, campaign bodies, attachments, templates): read once, fail with the file's name.

Their content is checked by the API, not here: it is the one source of truth for validation and answers with
the failing field, so the CLI never rejects something the API would accept (or the other way round).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wecomctl.http import UsageError


def read_json_file(path: str, what: str) -> Any:
    """A JSON document from a file, with a usage error (exit 2) that names the file when it is bad."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise UsageError(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{what} file {path} is not valid JSON: {exc}") from exc
