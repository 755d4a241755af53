"""The single-table key design: every partition key, sort key and index key the bundle writes, in one place.

Why one module: the design (pk/sk, gsi1..gsi3, TTL ``expires_at``) is only safe while every reader and
writer agrees on it; a key built in two places can drift. docs/data-model.md describes each entity's
attributes and access patterns; this module is the code of its keys. Builders answer plain strings or plain
``{"pk", "sk"}`` dicts (the domains' ``repo`` modules encode them for DynamoDB).

=======================  ===============================  =====================================================
item                     pk                               sk
=======================  ===============================  =====================================================
welcome rule             ``RULE``                         ``RULE#{rule_id}``
group template (mirror)  ``GROUP_TEMPLATE``               ``TEMPLATE#{template_id}``
group template intent    ``GROUP_TEMPLATE``               ``INTENT#{intent_id}``
channel (contact way)    ``CHANNEL``                      ``CHANNEL#{channel_id}``
welcome event / log      ``WELCOME#{event_key}``          ``WELCOME``
access token             ``TOKEN#{scope}``                ``TOKEN``
doctor probe             ``DOCTOR``                       ``PROBE`` (never written: the doctor's GetItem)
campaign                 ``CAMPAIGN#{campaign_id}``       ``CAMPAIGN``
campaign chunk           ``CAMPAIGN#{campaign_id}``       ``CHUNK#{chunk:03d}``
audience / fail / skip   ``CAMPAIGN#{campaign_id}``       ``PART#{AUD|FAIL|SKIP}#{chunk:03d}#{part:02d}``
reminder event           ``CAMPAIGN#{campaign_id}``       ``EVENT#REMIND#{at_ms:013d}#{msgid}``
idempotency key          ``IDEMPOTENCY#{key}``            ``IDEMPOTENCY``
msgid registry/schedule  ``MSGID#{msgid}``                ``MSGID``
sync member              ``MSGID#{msgid}``                ``MEMBER#{userid}``
sync result row          ``MSGID#{msgid}``                ``R#{userid}#{external_userid or chat_id}``
reminder slot            ``REMINDER#{msgid}``             ``SLOT#{slot}``
media cache              ``MEDIA#{kind}#{bucket}#{key}``  ``MEDIA``
customer cap counters    ``CUST#{external_userid}``       ``QUOTA#{YYYY-MM}`` (local month; ``s{DD}``/``l{DD}``)
customer pending rows    ``CUST#{external_userid}``       ``PENDING#{YYYY-MM}`` (UTC month of the task)
channel day counters     ``CHANNEL_STATS#{channel_id}``   ``DAY#{YYYY-MM-DD}#{shard}``
arrival marker           ``ARRIVAL#{external_userid}``    ``USER#{userid}``
=======================  ===============================  =====================================================

Indexes (sparse: an item writes only the index keys it needs; due sort keys are ``{time:010d}#{id}``):

=====  ======================================  ===============================================================
index  partition (gsiNpk)                      sort key (gsiNsk)
=====  ======================================  ===============================================================
gsi1   ``WLOG#EXT#{external_userid}``          ``{create_time:010d}#{external_userid}#{userid}`` (welcome log)
gsi1   ``CAMPAIGNS``                           ``{created_at:010d}#{campaign_id}`` (all campaigns)
gsi1   ``ORPHAN#{fingerprint}``                ``{first_attempt_at:010d}#{campaign_id}#{chunk:03d}``
gsi1   ``MEDIA#DUE``                           ``{refresh_at:010d}#MEDIA#{kind}#{bucket}#{key}``
gsi2   ``WLOG#USER#{userid}``                  welcome log sort key, as in gsi1
gsi2   ``CAMPAIGNS#{status}``                  ``{created_at:010d}#{campaign_id}`` (one status)
gsi2   ``CUSTMSG#{external_userid}``           ``{send_time or task_at:010d}#{msgid}#{userid}`` (result rows)
gsi3   ``WLOG#MONTH#{YYYY-MM}``                welcome log sort key, as in gsi1
gsi3   ``DUE#SEND`` / ``DUE#REMIND``           ``{at:010d}#{campaign_id}`` (send / reminder turn due)
gsi3   ``DUE#SYNC``                            ``{next_sync_at:010d}#{msgid}`` (result sync due)
=====  ======================================  ===============================================================
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Key = dict[str, str]

KEY_ATTRIBUTES = frozenset({"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"})


def _key(pk: str, sk: str) -> Key:
    return {"pk": pk, "sk": sk}


def due_sk(at: int, item_id: str) -> str:
    """A due index's sort key: by time, then id (so equal times stay distinct and ordered)."""
    return f"{int(at):010d}#{item_id}"


def due_upto(at: int) -> str:
    """The greatest due sort key of time ``at`` (``#~`` sorts after every id)."""
    return f"{int(at):010d}#~"


# ----------------------------------------------------------------------------------------------- welcome rules
RULE_PK = "RULE"
RULE_PREFIX = "RULE#"


def rule_key(rule_id: str) -> Key:
    return _key(RULE_PK, f"{RULE_PREFIX}{rule_id}")


# ----------------------------------------------------------------------------------------------- group welcome templates
# One small partition (WeCom caps a corp at 100 templates) holds the mirror records and the intents written
# before each ``add``.
GROUP_TEMPLATE_PK = "GROUP_TEMPLATE"
TEMPLATE_PREFIX = "TEMPLATE#"
INTENT_PREFIX = "INTENT#"


def group_template_key(template_id: str) -> Key:
    return _key(GROUP_TEMPLATE_PK, f"{TEMPLATE_PREFIX}{template_id}")


def group_template_intent_key(intent_id: str) -> Key:
    return _key(GROUP_TEMPLATE_PK, f"{INTENT_PREFIX}{intent_id}")


# ----------------------------------------------------------------------------------------------- channels
# One partition holds every channel (渠道活码): one item per channel, also while its ``add_contact_way`` is
# only an intent (``status`` pending). Operators create channels by hand (hundreds, not millions); the hot
# path reads one item with GetItem.
CHANNEL_PK = "CHANNEL"
CHANNEL_PREFIX = "CHANNEL#"


def channel_key(channel_id: str) -> Key:
    return _key(CHANNEL_PK, f"{CHANNEL_PREFIX}{channel_id}")


# ----------------------------------------------------------------------------------------------- welcome events
WELCOME_SK = "WELCOME"

# Welcome-log listing: (index, partition prefix) per way of asking.
WELCOME_LOG_PARTITIONS = {
    "external_userid": ("gsi1", "WLOG#EXT#"),
    "userid": ("gsi2", "WLOG#USER#"),
    "month": ("gsi3", "WLOG#MONTH#"),
}


def welcome_key(event_key: str) -> Key:
    return _key(f"WELCOME#{event_key}", WELCOME_SK)


def welcome_log_month(create_time: int) -> str:
    """The month partition (UTC ``YYYY-MM``) a welcome record is listed under."""
    return datetime.fromtimestamp(create_time, UTC).strftime("%Y-%m")


def welcome_log_sk_from(since: int) -> str:
    """The smallest welcome-log sort key at or after ``since`` (epoch seconds)."""
    return f"{since:010d}"


def welcome_log_keys(external_userid: str, userid: str, create_time: int) -> dict[str, str]:
    """The three welcome-log index entries of one finished welcome (by customer, member, month)."""
    sort = f"{welcome_log_sk_from(create_time)}#{external_userid}#{userid}"
    return {
        "gsi1pk": f"{WELCOME_LOG_PARTITIONS['external_userid'][1]}{external_userid}",
        "gsi1sk": sort,
        "gsi2pk": f"{WELCOME_LOG_PARTITIONS['userid'][1]}{userid}",
        "gsi2sk": sort,
        "gsi3pk": f"{WELCOME_LOG_PARTITIONS['month'][1]}{welcome_log_month(create_time)}",
        "gsi3sk": sort,
    }


# ----------------------------------------------------------------------------------------------- access token
def token_key(scope: str) -> Key:
    return _key(f"TOKEN#{scope}", "TOKEN")


def doctor_probe_key() -> Key:
    """The item the doctor reads to see that the table answers (it is never written)."""
    return _key("DOCTOR", "PROBE")


# ----------------------------------------------------------------------------------------------- campaigns
# One partition per campaign holds the campaign record, its chunk intents, audience / fail-list parts
# (<= 5 000 ids per item: items are capped at 400 KB) and reminder events. Sort keys are chosen so that one
# Query of "CAMPAIGN".."EVENT#~" reads everything an operator sees without the (large) PART# items.
CAMPAIGN_SK = "CAMPAIGN"
CAMPAIGN_LIST_PK = "CAMPAIGNS"
CHUNK_PREFIX = "CHUNK#"
EVENT_PREFIX = "EVENT#"
VIEW_LAST_SK = "EVENT#~"
DUE_SEND = "DUE#SEND"
DUE_REMIND = "DUE#REMIND"


def campaign_pk(campaign_id: str) -> str:
    return f"CAMPAIGN#{campaign_id}"


def campaign_key(campaign_id: str) -> Key:
    return _key(campaign_pk(campaign_id), CAMPAIGN_SK)


def chunk_sk(chunk: int) -> str:
    return f"{CHUNK_PREFIX}{chunk:03d}"


def chunk_key(campaign_id: str, chunk: int) -> Key:
    return _key(campaign_pk(campaign_id), chunk_sk(chunk))


def part_prefix(kind: str, chunk: int) -> str:
    """The sort-key prefix of one chunk's parts of one kind (they sort in part order)."""
    return f"PART#{kind}#{chunk:03d}#"


def part_sk(kind: str, chunk: int, part: int) -> str:
    """``kind`` is AUD (audience ids), FAIL (WeCom's fail_list) or SKIP (the customers a ``skip_capped``
    create left out: chunk 0, as they belong to no chunk)."""
    return f"{part_prefix(kind, chunk)}{part:02d}"


def reminder_event_sk(at_ms: int, msgid: str) -> str:
    return f"{EVENT_PREFIX}REMIND#{at_ms:013d}#{msgid}"


def campaign_list_keys(created_at: int, campaign_id: str) -> dict[str, str]:
    """A campaign's place in the lists (gsi1: all campaigns; gsi2, whose partition is its status: see
    ``campaign_status_keys``): by creation time, newest first when read backwards."""
    order = due_sk(created_at, campaign_id)
    return {"gsi1pk": CAMPAIGN_LIST_PK, "gsi1sk": order, "gsi2sk": order}


def campaign_status_keys(status: str) -> dict[str, str]:
    """Status and its list index partition change together (gsi2: campaigns by status, newest first)."""
    return {"status": status, "gsi2pk": f"{CAMPAIGN_LIST_PK}#{status}"}


def campaigns_by_status_pk(status: str) -> str:
    return campaign_status_keys(status)["gsi2pk"]


def idempotency_key(key: str) -> Key:
    return _key(f"IDEMPOTENCY#{key}", "IDEMPOTENCY")


def orphan_keys(fingerprint: str, first_attempt_at: int, campaign_id: str, chunk: int) -> dict[str, str]:
    """A chunk intent in the orphan index (gsi1): by content fingerprint, then first attempt time."""
    return {
        "gsi1pk": orphan_pk(fingerprint),
        "gsi1sk": f"{int(first_attempt_at):010d}#{campaign_id}#{chunk:03d}",
    }


def orphan_pk(fingerprint: str) -> str:
    return f"ORPHAN#{fingerprint}"


def orphan_sk_from(first_attempt_at: int) -> str:
    """The smallest orphan-index sort key at or after ``first_attempt_at`` (never before the epoch)."""
    return f"{max(0, int(first_attempt_at)):010d}"


# ----------------------------------------------------------------------------------------------- result sync
# The msgid registry item (``MSGID#{msgid}`` / ``MSGID``) is also the msgid's sync schedule (gsi3 ``DUE#SYNC``
# by next sync time, present only while syncs are due); the msgid's partition holds one item per member
# (``MEMBER#{userid}``) and one per customer or group chat (``R#{userid}#{target}``).
MSGID_SK = "MSGID"
DUE_SYNC = "DUE#SYNC"
MEMBER_PREFIX = "MEMBER#"
RESULT_PREFIX = "R#"


def msgid_pk(msgid: str) -> str:
    return f"MSGID#{msgid}"


def msgid_key(msgid: str) -> Key:
    return _key(msgid_pk(msgid), MSGID_SK)


def member_sk(userid: str) -> str:
    return f"{MEMBER_PREFIX}{userid}"


def result_prefix(userid: str | None) -> str:
    """The sort-key prefix of a msgid's result rows: all of them, or one member's."""
    return RESULT_PREFIX if userid is None else f"{RESULT_PREFIX}{userid}#"


def result_sk(userid: str, target: str) -> str:
    """``target`` is the customer's external_userid or the group chat's chat_id."""
    return f"{result_prefix(userid)}{target}"


def sync_due_keys(at: int, msgid: str) -> dict[str, Any]:
    """The msgid's place in the sync due index (gsi3): by next sync time, oldest first."""
    return {"next_sync_at": int(at), "gsi3pk": DUE_SYNC, "gsi3sk": due_sk(at, msgid)}


# ----------------------------------------------------------------------------------------------- reminder slots
SLOT_PREFIX = "SLOT#"


def reminder_pk(msgid: str) -> str:
    return f"REMINDER#{msgid}"


def slot_key(msgid: str, slot: int) -> Key:
    return _key(reminder_pk(msgid), f"{SLOT_PREFIX}{slot}")


# ----------------------------------------------------------------------------------------------- media cache
# One item per (WeCom media kind, bucket, key). Temporary media (image/video/file) sit in the due index (gsi1
# ``MEDIA#DUE``, sorted by the time they should be refreshed); permanent image URLs (``imgurl``) never do.
MEDIA_SK = "MEDIA"
MEDIA_DUE = "MEDIA#DUE"


def media_pk(kind: str, bucket: str, key: str) -> str:
    return f"MEDIA#{kind}#{bucket}#{key}"


def media_key(kind: str, bucket: str, key: str) -> Key:
    return _key(media_pk(kind, bucket, key), MEDIA_SK)


def media_due_sk(refresh_at: int, kind: str, bucket: str, key: str) -> str:
    return due_sk(refresh_at, media_pk(kind, bucket, key))


# ----------------------------------------------------------------------------------------------- customers
# A customer's partition ``CUST#{external_userid}`` holds small counter items the result sync keeps: per local
# month (``QUOTA#{YYYY-MM}``) one string set per local day of the rows counted as received (``s{DD}``) and of
# the rows refused by the cap (``l{DD}``); per UTC month of the task's creation (``PENDING#{YYYY-MM}``) the
# unsent rows (``p``). Result rows of single tasks are listed per customer in gsi2 (``CUSTMSG#…``).
CUSTOMER_QUOTA_PREFIX = "QUOTA#"
CUSTOMER_PENDING_PREFIX = "PENDING#"
CUSTOMER_PENDING_ATTRIBUTE = "p"
CUSTOMER_MESSAGES_PREFIX = "CUSTMSG#"


def customer_pk(external_userid: str) -> str:
    return f"CUST#{external_userid}"


def customer_quota_key(external_userid: str, month: str) -> Key:
    """``month`` is the local ``YYYY-MM`` (WELCOME_TIMEZONE) of the days the item counts."""
    return _key(customer_pk(external_userid), f"{CUSTOMER_QUOTA_PREFIX}{month}")


def customer_pending_key(external_userid: str, month: str) -> Key:
    """``month`` is the UTC ``YYYY-MM`` of the creation of the tasks whose unsent rows the item lists."""
    return _key(customer_pk(external_userid), f"{CUSTOMER_PENDING_PREFIX}{month}")


def customer_day_attribute(kind: str, day: str) -> str:
    """A counter item's set for one local day (``day`` ``YYYY-MM-DD``): ``s`` received, ``l`` limit reached."""
    return f"{kind}{day[8:10]}"


def customer_messages_pk(external_userid: str) -> str:
    return f"{CUSTOMER_MESSAGES_PREFIX}{external_userid}"


def customer_message_keys(external_userid: str, at: int, msgid: str, userid: str) -> dict[str, str]:
    """A customer result row's place in the customer's listing (gsi2), newest first when read backwards."""
    return {"gsi2pk": customer_messages_pk(external_userid), "gsi2sk": f"{int(at):010d}#{msgid}#{userid}"}


# ----------------------------------------------------------------------------------------------- channel stats
# Per channel and day (in WELCOME_TIMEZONE) a few counter items, one per shard: concurrent arrivals through
# one channel update different items (each counter write is a transaction with the arrival marker, and two
# transactions on one item conflict). The reader adds the shards up; one Query reads 30 days of them.
CHANNEL_STATS_DAY_PREFIX = "DAY#"


def channel_stats_pk(channel_id: str) -> str:
    return f"CHANNEL_STATS#{channel_id}"


def channel_stats_key(channel_id: str, day: str, shard: int) -> Key:
    """``day`` is ``YYYY-MM-DD`` (sorts by date); ``shard`` a small integer."""
    return _key(channel_stats_pk(channel_id), f"{CHANNEL_STATS_DAY_PREFIX}{day}#{shard}")


def channel_stats_range(first_day: str, last_day: str) -> tuple[str, str]:
    """The sort-key bounds (BETWEEN, inclusive) of every shard of the days ``first_day``..``last_day``."""
    return f"{CHANNEL_STATS_DAY_PREFIX}{first_day}", f"{CHANNEL_STATS_DAY_PREFIX}{last_day}#~"


def arrival_key(external_userid: str, userid: str) -> Key:
    """Which channel brought this customer to this member (the loss callbacks name the same pair)."""
    return _key(f"ARRIVAL#{external_userid}", f"USER#{userid}")
