"""What every command handler gets: the API client (built on first use), the output mode and the streams."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, TextIO

from wecomctl.http import ApiClient, Response
from wecomctl.output import Column, ZoneSource, table
from wecomctl.zone import stack_zone


@dataclass
class Context:
    """Per-invocation state. The client is lazy so that usage errors (a missing file) come before a
    credentials error: the operator fixes the cheaper mistake first."""

    make_client: Callable[[], ApiClient]
    json_mode: bool = False
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    _client: ApiClient | None = None
    _zone: tzinfo | None = None

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def zone(self) -> tzinfo:
        """The stack's business time zone, in which times are printed (asked once, when first needed: views
        get this method, a ``ZoneSource``, and call it only for a time they print)."""
        if self._zone is None:
            self._zone = stack_zone(self.client)
        return self._zone

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

    def list_pages(
        self,
        path: str,
        query: dict[str, Any],
        *,
        follow: bool,
        columns: Sequence[Column],
        shape: Callable[[dict[str, Any], ZoneSource], dict[str, Any]],
        empty: str,
    ) -> int:
        """A ``cursor``-paginated list as one table (or JSON), with the next cursor on stderr.

        One page unless ``follow`` (``--all``); ``--json`` of one page is the API's answer as is, of all pages
        ``{"items": [...all...], "cursor": null}``.
        """
        pages = list(self.client.pages(path, query, follow=follow))
        if self.json_mode and not follow:
            self.raw(pages[0])
            return 0
        items = [item for page in pages for item in page.json().get("items", [])]
        cursor = pages[-1].json().get("cursor")
        if self.json_mode:
            self.dump({"items": items, "cursor": cursor})
            return 0
        self.out(table([shape(item, self.zone) for item in items], columns) if items else empty)
        if cursor:
            self.note(f"more: add --cursor {cursor} (or --all)")
        return 0

    def dump(self, doc: Any) -> None:
        """``--json`` for answers the CLI assembled itself (several pages joined by ``--all``)."""
        self.out(json.dumps(doc, ensure_ascii=False, indent=2))
