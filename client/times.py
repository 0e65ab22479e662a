"""Kubernetes timestamps (RFC 3339 strings in the API types) <-> seconds since the epoch (`now`).

The cores take `now` as a float and write timestamps at one-second precision, as Kubernetes'
metav1.Time serializes them (`2026-11-26T01:02:03Z`). Pure: no clock.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone

__all__ = ["format_time", "parse_time"]


def format_time(t: float) -> str:
    """Seconds since the epoch as metav1.Time writes them: `2026-11-26T01:02:03Z` (truncated to a second)."""
    return datetime.fromtimestamp(math.floor(t), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float | None:
    """An RFC 3339 timestamp as seconds since the epoch; None when empty or malformed.

    Absent and malformed both read as Kubernetes' zero time: callers order them first, as
    Kubernetes' comparisons do with an unset timestamp.
    """
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()
