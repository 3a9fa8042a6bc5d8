"""UUID strings made fast, for rows made by the ten thousand (uuid.uuid4() is a system call and an object each)."""

from __future__ import annotations

import hashlib
import os
import uuid

_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _format(h: str, version: str) -> str:
    return f"{h[:8]}-{h[8:12]}-{version}{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def new_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs, as uuid.uuid4() would print them."""
    raw = os.urandom(16 * count).hex()
    return [_format(raw[i:i + 32], "4") for i in range(0, 32 * count, 32)]


def name_id(namespace: uuid.UUID, name: str) -> str:
    """The same string as str(uuid.uuid5(namespace, name)), without building UUID objects."""
    return _format(hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False).hexdigest(), "5")
