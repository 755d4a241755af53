"""The customers' DynamoDB access patterns, one function each (docs/data-model.md, "Customers").

Why key lookups only: the cap must be known for audiences of 10 000 customers before a campaign is sent, so
every read is a BatchGetItem of counter items (100 keys a call) or a Query of one customer's index partition;
never a Scan, never a loop over campaigns. The writes are the result sync's set changes (``tally``).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from wecom_bundle.campaigns.status import SyncState
from wecom_bundle.customers.tally import ItemChange
from wecom_bundle.dynamo.client import client
from wecom_bundle.dynamo.codec import encode_item
from wecom_bundle.dynamo.keys import (
    customer_messages_pk,
    customer_pending_key,
    customer_quota_key,
    msgid_key,
)
from wecom_bundle.dynamo.table import Page, batch_get, public, query_index, table_name

COUNTER_WRITERS = 8  # concurrent UpdateItems of one page's counter changes (the client pools 32 connections)


def _item_key(change: ItemChange) -> dict[str, str]:
    build = customer_quota_key if change.kind == "QUOTA" else customer_pending_key
    return build(change.external_userid, change.month)


def _update_sets(key: dict[str, str], clauses: list[tuple[str, dict[str, set[str]]]]) -> None:
    """One UpdateItem of ``ADD``/``DELETE`` clauses, each a set of elements per attribute."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    parts = []
    for clause, sets in clauses:
        terms = []
        for attribute, elements in sets.items():
            n = len(names)
            names[f"#a{n}"], values[f":v{n}"] = attribute, {"SS": sorted(elements)}
            terms.append(f"#a{n} :v{n}")
        parts.append(f"{clause} " + ", ".join(terms))
    client().update_item(
        TableName=table_name(),
        Key=encode_item(key),
        UpdateExpression=" ".join(parts),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def apply_counter_changes(changes: Iterable[ItemChange]) -> int:
    """Add and remove row tokens on the customers' counter items: one UpdateItem per item (two when one set
    both gains and loses elements: an expression may name an attribute once), ``COUNTER_WRITERS`` at a time
    (UpdateItem has no batch form, and a page of 1 000 rows touches up to 2 000 items). Idempotent: applying
    the same change twice leaves the same sets. Answers the number of UpdateItem calls."""
    updates = []
    for change in changes:
        clauses = [(c, sets) for c, sets in (("DELETE", change.delete), ("ADD", change.add)) if sets]
        groups = [[c] for c in clauses] if change.add.keys() & change.delete.keys() else [clauses]
        updates.append((_item_key(change), groups))
    if len(updates) <= 1:
        for key, groups in updates:
            _apply(key, groups)
    else:
        client()  # built once here, not raced by the writers
        with ThreadPoolExecutor(max_workers=COUNTER_WRITERS) as pool:
            list(pool.map(lambda update: _apply(*update), updates))  # the first failure is raised here
    return sum(len(groups) for _, groups in updates)


def _apply(key: dict[str, str], groups: list[list[tuple[str, dict[str, set[str]]]]]) -> None:
    for group in groups:  # in order: a set's removals before its additions
        _update_sets(key, group)


def quota_items(
    wanted: Iterable[tuple[str, str]], attributes: list[str], deadline: float | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    """Counter items by (external_userid, local month), only ``attributes`` of each (the period's days):
    BatchGetItem, 100 keys a call. Absent items (nothing counted yet) are absent."""
    return _by_customer_month(
        [customer_quota_key(ext, month) for ext, month in dict.fromkeys(wanted)], attributes, deadline
    )


def pending_items(
    wanted: Iterable[tuple[str, str]], deadline: float | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    """Pending items by (external_userid, UTC month of task creation): BatchGetItem, 100 keys a call."""
    return _by_customer_month(
        [customer_pending_key(ext, month) for ext, month in dict.fromkeys(wanted)], None, deadline
    )


def _by_customer_month(
    keys: list[dict[str, str]], attributes: list[str] | None, deadline: float | None
) -> dict[tuple[str, str], dict[str, Any]]:
    items = batch_get([encode_item(key) for key in keys], attributes=attributes, deadline=deadline)
    return {(item["pk"].split("#", 1)[1], item["sk"].split("#", 1)[1]): public(item) for item in items}


def msgid_sync_states(msgids: Iterable[str], deadline: float | None = None) -> dict[str, str]:
    """``sync_state`` of known msgids (registry items, BatchGetItem): whether their task still runs."""
    unique = list(dict.fromkeys(msgids))
    keys = [encode_item(msgid_key(m)) for m in unique]
    items = batch_get(keys, attributes=["msgid", "sync_state"], deadline=deadline)
    return {str(item["msgid"]): str(item.get("sync_state") or SyncState.ACTIVE) for item in items}


def customer_messages(external_userid: str, *, limit: int, cursor: str | None) -> Page:
    """One page of a customer's result rows across every task, newest first (gsi2 ``CUSTMSG#…``)."""
    return query_index("gsi2", customer_messages_pk(external_userid), limit=limit, cursor=cursor)


class CustomerRepo(Protocol):
    """What the customers' services and the result sync's tally need of the table: this module satisfies
    it (the wiring passes the module)."""

    def apply_counter_changes(self, changes: Iterable[ItemChange]) -> int: ...
    def quota_items(
        self, wanted: Iterable[tuple[str, str]], attributes: list[str], deadline: float | None = None
    ) -> dict[tuple[str, str], dict[str, Any]]: ...
    def pending_items(
        self, wanted: Iterable[tuple[str, str]], deadline: float | None = None
    ) -> dict[tuple[str, str], dict[str, Any]]: ...
    def msgid_sync_states(self, msgids: Iterable[str], deadline: float | None = None) -> dict[str, str]: ...
    def customer_messages(self, external_userid: str, *, limit: int, cursor: str | None) -> Page: ...
