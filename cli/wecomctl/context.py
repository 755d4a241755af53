"""What every command handler gets: the API client (built on first use), the output mode and the streams."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from wecomctl.http import ApiClient, Response


@dataclass
class Context:
    """Per-invocation state. The client is lazy so that usage errors (a missing file) come before a
    credentials error: the operator fixes the cheaper mistake first."""

    make_client: Callable[[], ApiClient]
    json_mode: bool = False
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    _client: ApiClient | None = None

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def out(self, text: str = "") -> None:
        """Results, for the operator or a pipe."""
        print(text, file=self.stdout)

    def note(self, text: str) -> None:
        """Hints and progress (stderr), so a pipe of the results stays clean."""
        print(text, file=self.stderr)

    def raw(self, response: Response) -> None:
        """``--json``: the API's answer exactly as sent (nothing at all for an empty 204)."""
        if response.body:
            self.out(response.text.rstrip("\n"))

    def dump(self, doc: Any) -> None:
        """``--json`` for answers the CLI assembled itself (several pages joined by ``--all``)."""
        self.out(json.dumps(doc, ensure_ascii=False, indent=2))
