"""Timestamps without a UTC offset, read in a configured zone and written as RFC 3339 UTC.

OCPP 1.6 (§7 "Time notations") and 2.0.1 (Part 2, DateTime) require date-times with a timezone;
firmware often sends local wall-clock time with none, or a space instead of the `T`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

_NAIVE = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?")
_HAS_OFFSET = re.compile(r"([Zz]|[+-]\d{2}:?\d{2})$")


def repair_timestamp(value: str, zone: tzinfo) -> str | None:
    """The UTC RFC 3339 form of a naive `value` read in `zone`; None when it needs no repair
    (it already has an offset) or cannot be read as a date-time at all."""
    text = value.strip()
    if _HAS_OFFSET.search(text):
        return None
    match = _NAIVE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    fraction = match.group(7) or ""
    micro = int((fraction + "000000")[:6]) if fraction else 0
    try:
        local = datetime(year, month, day, hour, minute, min(second, 59), micro, tzinfo=zone)
    except ValueError:
        return None
    utc = local.astimezone(UTC)
    if fraction:
        millis = f".{utc.microsecond // 1000:03d}"
        return utc.strftime("%Y-%m-%dT%H:%M:%S") + millis + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
