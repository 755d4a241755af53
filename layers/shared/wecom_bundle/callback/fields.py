"""The decrypted callback event's fields, validated and normalised once, where the event is parsed.

Why a signed event is still checked: the signature proves the sender knows the callback Token, nothing about
the values (a leaked Token, a WeCom change, a bug). Every consumer downstream relies on what this module
guarantees, instead of each re-checking (or forgetting to):

* ``CreateTime`` is an ``int`` in 1..2^32-1, spelt in WeCom's one way (ASCII digits, no sign, no leading zero,
  no blank): one event has one CreateTime, so it has one dedupe key, and no arithmetic on it can overflow.
* ids (``UserID`` 1-64 bytes as WeCom documents for member ids, ``ExternalUserID`` 1-128 bytes like every
  customer id the admin API accepts) are printable, without blanks or ``#``: they go into DynamoDB keys,
  whose parts ``#`` separates and whose sizes are limited.
* free text (``State``, ``WelcomeCode``, a deletion's ``Source``) is printable and bounded; ``State`` may hold
  ``#`` (contact ways of other apps may), it is never part of a key.

A field that breaks a rule raises ``EventFieldError`` naming the field only: the value may be a customer id
or a welcome code and must not reach a log or an answer.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_CREATE_TIME = 2**32 - 1  # WeCom's CreateTime is 32-bit epoch seconds (year 2106)
_MAX_CREATE_TIME_DIGITS = len(str(MAX_CREATE_TIME))
KEY_SEPARATOR = "#"

# field -> maximum UTF-8 bytes; ids may hold no blank and no key separator.
ID_FIELDS = {"UserID": 64, "ExternalUserID": 128}
TEXT_FIELDS = {"State": 128, "WelcomeCode": 512, "Source": 64}
# (MsgType, Event, ChangeType) -> fields the event cannot do without.
_CONTACT_CHANGE = ("CreateTime", "UserID", "ExternalUserID")
REQUIRED_FIELDS = {
    ("event", "change_external_contact", "add_external_contact"): _CONTACT_CHANGE,
    ("event", "change_external_contact", "del_external_contact"): _CONTACT_CHANGE,
    ("event", "change_external_contact", "del_follow_user"): _CONTACT_CHANGE,
}

Event = dict[str, str | int]


class EventFieldError(ValueError):
    """A field of a signed event breaks its rule; ``field`` is its name (the value is never kept)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"invalid event field: {field}")
        self.field = field


def create_time(text: str) -> int:
    """CreateTime as WeCom spells it; anything else (``abc``, ``1.5e9``, `` 17…``, ``017…``, ``１７…``, ``-5``,
    forty digits) raises ``EventFieldError``."""
    plain = text.isascii() and text.isdigit() and not text.startswith("0")
    if not plain or len(text) > _MAX_CREATE_TIME_DIGITS or int(text) > MAX_CREATE_TIME:
        raise EventFieldError("CreateTime")
    return int(text)


def _check_text(field: str, value: str, max_bytes: int, *, is_id: bool) -> None:
    too_long = len(value) > max_bytes or len(value.encode("utf-8", "surrogatepass")) > max_bytes
    odd = not value.isprintable() or (is_id and (" " in value or KEY_SEPARATOR in value))
    if too_long or odd:
        raise EventFieldError(field)


def normalise(fields: Mapping[str, str]) -> Event:
    """The event with every known field checked, ``CreateTime`` as an int; other fields pass unchanged.

    Empty optional fields stay empty (an event without ``State`` is normal); the fields an event type needs
    (``REQUIRED_FIELDS``) must be present and non-empty.
    """
    event: Event = dict(fields)
    kind = (fields.get("MsgType", ""), fields.get("Event", ""), fields.get("ChangeType", ""))
    for field in REQUIRED_FIELDS.get(kind, ()):
        if not fields.get(field):
            raise EventFieldError(field)
    for field, limit in ID_FIELDS.items():
        if fields.get(field):
            _check_text(field, fields[field], limit, is_id=True)
    for field, limit in TEXT_FIELDS.items():
        if fields.get(field):
            _check_text(field, fields[field], limit, is_id=False)
    if "CreateTime" in fields:
        event["CreateTime"] = create_time(fields["CreateTime"])
    return event
