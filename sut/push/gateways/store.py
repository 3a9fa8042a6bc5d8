"""What a fake gateway received: every request with its receive times, outcome and whole payload.

Outcomes of an accepted request, per device (token or address):
- ``delivered``: the first time this notification (its opaque reference) reaches the device;
- ``replay``: the same idempotency key again (a retry): providers collapse it, the device shows nothing new;
- ``duplicate``: the same notification under a new key: the device shows it twice. BR-NOTIF-2 and BR-NOTIF-4
  demand there be none of these.
Rejected requests keep their status and reason.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any


def _add(index: dict[str, Any], name: str, seq: int) -> None:
    """index[name] holds one seq as an int, several as a list: most devices and messages have one request."""
    found = index.get(name)
    if found is None:
        index[name] = seq
    elif isinstance(found, int):
        index[name] = [found, seq]
    else:
        found.append(seq)


def _seqs(index: dict[str, Any], name: str) -> list[int]:
    found = index.get(name)
    return [] if found is None else [found] if isinstance(found, int) else list(found)


class Record:
    """One request as received. Kept small (slots, interned header values, a flat header tuple): a benchmark
    keeps 100,000 of them."""

    __slots__ = ("abandoned", "body", "connection", "headers", "hold", "key", "message_id", "outcome", "reason",
                 "received_mono", "received_wall", "ref", "seq", "status", "token")

    def __init__(self, seq: int, token: str, key: str | None, ref: str | None, message_id: str | None,
                 status: int, reason: str | None, outcome: str, received_wall: float, received_mono: float,
                 connection: int | None, headers: tuple[str, ...], body: bytes, hold: float = 0.0) -> None:
        self.seq, self.token, self.key, self.ref, self.message_id = seq, token, key, ref, message_id
        self.hold = hold  # seconds the answer was held (latency and stall knobs): answered at received + hold
        self.status, self.reason, self.outcome = status, reason, outcome
        self.received_wall, self.received_mono, self.connection = received_wall, received_mono, connection
        self.headers, self.body = headers, body
        self.abandoned = False  # the client gave up (reset the stream) before the held answer went out

    def view(self) -> dict[str, Any]:
        try:
            payload: Any = json.loads(self.body) if self.body else None
        except ValueError:
            payload = self.body.decode("utf-8", "replace")
        headers = {name: self.key if value is SAME_AS_KEY else value
                   for name, value in zip(self.headers[::2], self.headers[1::2], strict=True)}
        return {"seq": self.seq, "token": self.token, "key": self.key, "ref": self.ref,
                "message_id": self.message_id, "status": self.status, "reason": self.reason,
                "outcome": self.outcome, "received_wall": self.received_wall, "received_mono": self.received_mono,
                "answered_wall": self.received_wall + self.hold, "connection": self.connection, "headers": headers,
                "payload": payload, "payload_bytes": len(self.body), "abandoned": self.abandoned}


SAME_AS_KEY = "<the idempotency key>"
_TUPLES: dict[tuple[str, ...], tuple[str, ...]] = {}


def flat_headers(headers: dict[str, str], key: str | None) -> tuple[str, ...]:
    """Header names and values as one flat tuple, shared between records where equal: values equal to the key
    are stored as a marker, the rest interned, so most requests of a second share one tuple."""
    out: list[str] = []
    for name, value in headers.items():
        out.append(sys.intern(name))
        out.append(SAME_AS_KEY if value == key and key is not None else
                   sys.intern(value) if len(value) < 40 else value)
    flat = tuple(out)
    if len(_TUPLES) > 100_000:
        _TUPLES.clear()
    return _TUPLES.setdefault(flat, flat)


class Store:
    def __init__(self, name: str) -> None:
        self.name = name
        self.reset()

    def reset(self) -> None:
        self.records: list[Record] = []
        self.by_token: dict[str, Any] = {}
        self.by_message: dict[str, Any] = {}
        self.accepted_keys: dict[str, int] = {}  # idempotency key -> seq of its first acceptance
        self.refs: dict[str, Any] = {}  # token -> the reference (or set of references) delivered to it
        self.outcomes: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.reasons: Counter[str] = Counter()
        # Kept as requests come in, so a summary costs the same at the 100,000th request as at the first (a
        # benchmark polls it while the burst drains, and the gateways share the machine with the system).
        self.first_accepted: float | None = None
        self.last_accepted: float | None = None
        self.max_payload = 0
        self.reset_at = time.time()

    def seen_key(self, token: str, key: str | None) -> Record | None:
        """The earlier accepted request with this idempotency key for this device, if any (for a replay)."""
        seq = self.accepted_keys.get(key) if key is not None else None
        if seq is None or self.records[seq].token != token:
            return None
        return self.records[seq]

    def _ref_seen(self, token: str, ref: str) -> bool:
        found = self.refs.get(token)
        if found is None:
            self.refs[token] = ref
            return False
        if isinstance(found, str):
            if found == ref:
                return True
            self.refs[token] = {found, ref}
            return False
        if ref in found:
            return True
        found.add(ref)
        return False

    def add(self, *, token: str, key: str | None, ref: str | None, message_id: str | None, status: int,
            reason: str | None, received_wall: float, received_mono: float, connection: int | None = None,
            headers: dict[str, str] | None = None, body: bytes = b"", hold: float = 0.0) -> Record:
        seq = len(self.records)
        if 200 <= status < 300:
            if self.seen_key(token, key) is not None:
                outcome = "replay"
            elif ref is not None and self._ref_seen(token, ref):
                outcome = "duplicate"
            else:
                outcome = "delivered"
            if key is not None:
                self.accepted_keys.setdefault(key, seq)
        else:
            outcome = "rejected"
        record = Record(seq, token, key, ref, message_id, status, reason, outcome, received_wall, received_mono,
                        connection, flat_headers(headers or {}, key), body, hold)
        self.records.append(record)
        _add(self.by_token, token, seq)
        if message_id:
            _add(self.by_message, message_id, seq)
        self.outcomes[outcome] += 1
        self.statuses[status] += 1
        if outcome != "rejected":
            if self.first_accepted is None or received_wall < self.first_accepted:
                self.first_accepted = received_wall
            if self.last_accepted is None or received_wall > self.last_accepted:
                self.last_accepted = received_wall
        self.max_payload = max(self.max_payload, len(body))
        if reason:
            self.reasons[reason] += 1
        return record

    # -- inspection views ---------------------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        return {
            "gateway": self.name, "requests": len(self.records),
            "accepted": len(self.records) - self.outcomes["rejected"],
            "delivered": self.outcomes["delivered"], "replays": self.outcomes["replay"],
            "duplicates": self.outcomes["duplicate"], "rejected": self.outcomes["rejected"],
            "by_status": {str(k): v for k, v in sorted(self.statuses.items())}, "by_reason": dict(self.reasons),
            "devices": len(self.by_token), "messages": len(self.by_message),
            "first_received_wall": self.first_accepted, "last_received_wall": self.last_accepted,
            "max_payload_bytes": self.max_payload,
            "since": self.reset_at,
        }

    def _group(self, seqs: list[int], limit: int | None = None) -> dict[str, Any]:
        records = [self.records[s] for s in seqs]
        counts = Counter(r.outcome for r in records)
        walls = [r.received_wall for r in records]
        shown = records if limit is None else records[-limit:]
        return {"requests": len(records), "delivered": counts["delivered"], "replays": counts["replay"],
                "duplicates": counts["duplicate"], "rejected": counts["rejected"],
                "first_received_wall": min(walls, default=None), "last_received_wall": max(walls, default=None),
                "deliveries": [r.view() for r in shown]}

    def device(self, token: str, limit: int | None = None) -> dict[str, Any]:
        return {"token": token, **self._group(_seqs(self.by_token, token), limit)}

    def message(self, message_id: str) -> dict[str, Any]:
        seqs = _seqs(self.by_message, message_id)
        per_device: dict[str, Counter[str]] = defaultdict(Counter)
        for s in seqs:
            per_device[self.records[s].token][self.records[s].outcome] += 1
        return {"message_id": message_id, **self._group(seqs),
                "devices": {token: dict(c) for token, c in per_device.items()}}

    def select(self, *, token: str | None = None, key: str | None = None, ref: str | None = None,
               message_id: str | None = None, outcome: str | None = None, offset: int = 0,
               limit: int = 1000) -> list[dict[str, Any]]:
        if token is not None:
            pool = [self.records[s] for s in _seqs(self.by_token, token)]
        elif message_id is not None:
            pool = [self.records[s] for s in _seqs(self.by_message, message_id)]
        else:
            pool = self.records
        chosen = [r for r in pool if (key is None or r.key == key) and (ref is None or r.ref == ref)
                  and (message_id is None or r.message_id == message_id) and (outcome is None or r.outcome == outcome)]
        return [r.view() for r in chosen[offset:offset + limit]]

    def timings_csv(self) -> Iterator[str]:
        """For benchmarks, as CSV in chunks: key, outcome and receive time of every accepted request."""
        yield "key,outcome,received_wall\n"
        records = self.records
        for start in range(0, len(records), 5000):
            yield "".join(f"{r.key},{r.outcome},{r.received_wall!r}\n" for r in records[start:start + 5000]
                          if r.outcome != "rejected")

    def records_csv(self) -> Iterator[str]:
        """Every request, rejected ones too, as CSV in chunks: what the load layer's exactly-once accounting and
        latency need (the answer time is the receive time plus the hold of the latency and stall knobs;
        abandoned: the client reset the stream before that answer went out, so it never saw it)."""
        yield "seq,token,key,ref,message_id,status,reason,outcome,received_wall,answered_wall,abandoned\n"
        records = self.records
        for start in range(0, len(records), 5000):
            yield "".join(f"{r.seq},{r.token},{r.key or ''},{r.ref or ''},{r.message_id or ''},{r.status},"
                          f"{r.reason or ''},{r.outcome},{r.received_wall!r},{r.received_wall + r.hold!r},"
                          f"{int(r.abandoned)}\n"
                          for r in records[start:start + 5000])
