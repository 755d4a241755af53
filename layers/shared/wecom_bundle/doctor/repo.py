"""The doctor's one access pattern: a consistent GetItem of the never-written probe item (the table exists, the
function may read it, the endpoint answers)."""

from __future__ import annotations

from wecom_bundle.dynamo.client import client
from wecom_bundle.dynamo.codec import encode_item
from wecom_bundle.dynamo.keys import doctor_probe_key
from wecom_bundle.dynamo.table import table_name


def probe() -> None:
    """Raise if the table does not answer a GetItem."""
    client().get_item(TableName=table_name(), Key=encode_item(doctor_probe_key()), ConsistentRead=True)
