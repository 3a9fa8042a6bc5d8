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
import time
from collections import Counter, defaultdict
from typing import Any


class Record:
    __slots__ = ("body", "connection", "headers", "key", "message_id", "outcome", "reason", "received_mono",
                 "received_wall", "ref", "seq", "status", "token")

    def __init__(self, seq: int, token: str, key: str | None, ref: str | None, message_id: str | None,
                 status: int, reason: str | None, outcome: str, received_wall: float, received_mono: float,
                 connection: int | None, headers: dict[str, str], body: bytes) -> None:
        self.seq, self.token, self.key, self.ref, self.message_id = seq, token, key, ref, message_id
        self.status, self.reason, self.outcome = status, reason, outcome
        self.received_wall, self.received_mono, self.connection = received_wall, received_mono, connection
        self.headers, self.body = headers, body

    def view(self) -> dict[str, Any]:
        try:
            payload: Any = json.loads(self.body) if self.body else None
        except ValueError:
            payload = self.body.decode("utf-8", "replace")
        return {"seq": self.seq, "token": self.token, "key": self.key, "ref": self.ref,
                "message_id": self.message_id, "status": self.status, "reason": self.reason,
                "outcome": self.outcome, "received_wall": self.received_wall, "received_mono": self.received_mono,
                "connection": self.connection, "headers": self.headers, "payload": payload,
                "payload_bytes": len(self.body)}


class Store:
    def __init__(self, name: str) -> None:
        self.name = name
        self.reset()

    def reset(self) -> None:
        self.records: list[Record] = []
        self.by_token: dict[str, list[int]] = defaultdict(list)
        self.by_message: dict[str, list[int]] = defaultdict(list)
        self.accepted_keys: dict[tuple[str, str], int] = {}  # (token, key) -> seq of the first acceptance
        self.delivered_refs: set[tuple[str, str]] = set()
        self.outcomes: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.reasons: Counter[str] = Counter()
        self.reset_at = time.time()

    def seen_key(self, token: str, key: str | None) -> Record | None:
        """The earlier accepted request with this idempotency key for this device, if any (for a replay)."""
        if key is None:
            return None
        seq = self.accepted_keys.get((token, key))
        return self.records[seq] if seq is not None else None

    def add(self, *, token: str, key: str | None, ref: str | None, message_id: str | None, status: int,
            reason: str | None, received_wall: float, received_mono: float, connection: int | None = None,
            headers: dict[str, str] | None = None, body: bytes = b"") -> Record:
        seq = len(self.records)
        if 200 <= status < 300:
            if key is not None and (token, key) in self.accepted_keys:
                outcome = "replay"
            elif ref is not None and (token, ref) in self.delivered_refs:
                outcome = "duplicate"
            else:
                outcome = "delivered"
            if key is not None:
                self.accepted_keys.setdefault((token, key), seq)
            if ref is not None:
                self.delivered_refs.add((token, ref))
        else:
            outcome = "rejected"
        record = Record(seq, token, key, ref, message_id, status, reason, outcome, received_wall, received_mono,
                        connection, headers or {}, body)
        self.records.append(record)
        self.by_token[token].append(seq)
        if message_id:
            self.by_message[message_id].append(seq)
        self.outcomes[outcome] += 1
        self.statuses[status] += 1
        if reason:
            self.reasons[reason] += 1
        return record

    # -- inspection views ---------------------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        accepted = [r for r in self.records if r.outcome != "rejected"]
        first = min((r.received_wall for r in accepted), default=None)
        last = max((r.received_wall for r in accepted), default=None)
        return {
            "gateway": self.name, "requests": len(self.records), "accepted": len(accepted),
            "delivered": self.outcomes["delivered"], "replays": self.outcomes["replay"],
            "duplicates": self.outcomes["duplicate"], "rejected": self.outcomes["rejected"],
            "by_status": {str(k): v for k, v in sorted(self.statuses.items())}, "by_reason": dict(self.reasons),
            "devices": len(self.by_token), "messages": len(self.by_message),
            "first_received_wall": first, "last_received_wall": last,
            "max_payload_bytes": max((len(r.body) for r in self.records), default=0),
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
        return {"token": token, **self._group(self.by_token.get(token, []), limit)}

    def message(self, message_id: str) -> dict[str, Any]:
        seqs = self.by_message.get(message_id, [])
        per_device: dict[str, Counter[str]] = defaultdict(Counter)
        for s in seqs:
            per_device[self.records[s].token][self.records[s].outcome] += 1
        return {"message_id": message_id, **self._group(seqs),
                "devices": {token: dict(c) for token, c in per_device.items()}}

    def select(self, *, token: str | None = None, key: str | None = None, ref: str | None = None,
               message_id: str | None = None, outcome: str | None = None, offset: int = 0,
               limit: int = 1000) -> list[dict[str, Any]]:
        if token is not None:
            pool = [self.records[s] for s in self.by_token.get(token, [])]
        elif message_id is not None:
            pool = [self.records[s] for s in self.by_message.get(message_id, [])]
        else:
            pool = self.records
        chosen = [r for r in pool if (key is None or r.key == key) and (ref is None or r.ref == ref)
                  and (message_id is None or r.message_id == message_id) and (outcome is None or r.outcome == outcome)]
        return [r.view() for r in chosen[offset:offset + limit]]

    def timings(self) -> dict[str, list]:
        """Compact columns for benchmarks: key, device, outcome and receive time of every accepted request."""
        accepted = [r for r in self.records if r.outcome != "rejected"]
        return {"key": [r.key for r in accepted], "token": [r.token for r in accepted],
                "ref": [r.ref for r in accepted], "outcome": [r.outcome for r in accepted],
                "received_wall": [r.received_wall for r in accepted]}
