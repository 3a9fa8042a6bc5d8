"""The HTTP/2 state machine: jh2 (h2's API with HPACK and framing in Rust) where installed, else h2.

Both ends of the fan-out are Python; jh2 roughly halves the cost of a stream on each end, which is the difference
between meeting the throughput target on two cores and not (measured with py-spy, see sut/push/README.md).
"""

from __future__ import annotations

import asyncio

try:
    from jh2 import config, connection, events, exceptions, settings
    from jh2.errors import ErrorCodes

    IMPLEMENTATION = "jh2"
except ImportError:  # pragma: no cover - h2 is the pure-Python fallback
    from h2 import config, connection, events, exceptions, settings  # type: ignore[no-redef]
    from h2.errors import ErrorCodes  # type: ignore[no-redef, assignment]

    IMPLEMENTATION = "h2"

__all__ = ["IMPLEMENTATION", "ErrorCodes", "config", "connection", "events", "exceptions", "new_connection",
           "settings"]


def new_connection(cfg: config.H2Configuration) -> connection.H2Connection:
    conn = connection.H2Connection(cfg)
    if IMPLEMENTATION == "h2":
        import hpack

        class PlainEncoder(hpack.Encoder):
            """HPACK without Huffman coding: h2's pure-Python Huffman coder was a tenth of each send, and unique
            values (apns-id) compress little anyway. Any peer decodes both forms (RFC 7541, 5.2)."""

            def encode(self, headers, huffman: bool = False):  # type: ignore[no-untyped-def, override]
                return super().encode(headers, huffman=False)

        conn.encoder = PlainEncoder()
    return conn


class CoalescedWrites:
    """Mixin for an asyncio HTTP/2 protocol (client or server): the frames of one loop iteration go out in one
    socket write, instead of a write per event. Needs ``conn``, ``transport``, ``loop`` and ``_flush_pending``."""

    conn: connection.H2Connection
    transport: asyncio.Transport | None
    loop: asyncio.AbstractEventLoop
    _flush_pending: bool

    def _flush(self) -> None:
        self._flush_pending = False
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _schedule_flush(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            self.loop.call_soon(self._flush)
