"""A minimal HTTP/2 server over TLS on asyncio and h2, for the fake APNs and FCM.

Each request is answered by a plain function (no task per stream): the handler decides at receipt, and an
answer that should come late (latency, a stall) is sent from a timer. Every connection counts its open
streams, so the inspection API can show that the client kept within the advertised limit.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..h2compat import CoalescedWrites, ErrorCodes, new_connection
from ..h2compat import config as h2config
from ..h2compat import events as h2events
from ..h2compat import exceptions as h2exceptions
from ..h2compat import settings as h2settings


@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes
    connection_id: int
    stream_id: int
    received_wall: float = 0.0
    received_mono: float = 0.0


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay: float = 0.0  # seconds to hold the answer (latency and stall knobs)
    record: Any = None  # the store's record of the request: marked abandoned if the client gives up first


Handler = Callable[[Request], Response]


def _abandoned(response: Response) -> None:
    """The client never got this answer (it reset the stream, or the connection went, while it was held): what it
    said, a 429's retry-after for one, never reached the sender."""
    if response.record is not None:
        response.record.abandoned = True


class ConnectionStats:
    __slots__ = ("closed", "id", "open", "opened_wall", "peak", "requests", "violations")

    def __init__(self, connection_id: int) -> None:
        self.id = connection_id
        self.open = 0
        self.peak = 0  # most streams open at once since the connection opened or the limit was last set
        self.requests = 0
        self.violations = 0  # streams opened beyond the advertised limit (the connection is then closed)
        self.opened_wall = time.time()
        self.closed = False

    def view(self) -> dict:
        return {"id": self.id, "open_streams": self.open, "peak_streams": self.peak, "requests": self.requests,
                "violations": self.violations, "closed": self.closed}


class H2Server:
    """Holds the handler, the stream limit and the live connections of one fake provider."""

    def __init__(self, handler: Handler, max_streams: int) -> None:
        self.handler = handler
        self.max_streams = max_streams
        self.protocols: set[H2ServerProtocol] = set()
        self.stats: list[ConnectionStats] = []
        self._ids = itertools.count(1)

    def protocol(self) -> H2ServerProtocol:
        return H2ServerProtocol(self, next(self._ids))

    def set_max_streams(self, value: int) -> None:
        """A new limit for new connections, and a SETTINGS frame to the open ones (APNs changes it too)."""
        self.max_streams = value
        for protocol in list(self.protocols):
            protocol.update_limit(value)
            protocol.stats.peak = protocol.stats.open  # a new limit starts a new observation

    def reset_stats(self) -> None:
        self.stats = [s for s in self.stats if not s.closed]
        for s in self.stats:
            s.peak, s.requests = s.open, 0

    def close_all(self) -> None:
        for protocol in list(self.protocols):
            protocol.close()


class H2ServerProtocol(CoalescedWrites, asyncio.Protocol):
    def __init__(self, server: H2Server, connection_id: int) -> None:
        self.server = server
        self.loop = asyncio.get_event_loop()
        self.stats = ConnectionStats(connection_id)
        # h2's generic header validation is off both ways (it was a fifth of the fake's time): the fakes check what
        # the providers check (paths, pseudo-headers, apns-* headers) themselves, and our answers are well-formed.
        self.conn = new_connection(h2config.H2Configuration(
            client_side=False, header_encoding=None, validate_inbound_headers=False,
            validate_outbound_headers=False, normalize_outbound_headers=False))
        self.conn.local_settings = h2settings.Settings(client=False, initial_values={
            h2settings.SettingCodes.MAX_CONCURRENT_STREAMS: server.max_streams,
            h2settings.SettingCodes.MAX_HEADER_LIST_SIZE: 16384,
        })
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]] = {}
        self.timers: dict[int, tuple[asyncio.TimerHandle, Response]] = {}  # answers held by a delay
        self._flush_pending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's TLS transport is not an asyncio.Transport subclass, but has the same methods)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() != "h2":
            transport.close()  # APNs and FCM speak HTTP/2 only
            return
        self.transport = transport  # type: ignore[assignment]
        self.server.protocols.add(self)
        self.server.stats.append(self.stats)
        self.conn.initiate_connection()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.protocols.discard(self)
        self.stats.closed = True
        self.stats.open = 0
        for timer, response in self.timers.values():
            timer.cancel()
            _abandoned(response)
        self.timers.clear()
        self.streams.clear()

    def update_limit(self, value: int) -> None:
        try:
            self.conn.update_settings({h2settings.SettingCodes.MAX_CONCURRENT_STREAMS: value})
        except h2exceptions.H2Error:
            return
        self._flush()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            try:
                self.conn.close_connection()
                self._flush()
            except h2exceptions.H2Error:
                pass
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2exceptions.ProtocolError as exc:
            if isinstance(exc, h2exceptions.TooManyStreamsError):
                self.stats.violations += 1  # the client ignored SETTINGS_MAX_CONCURRENT_STREAMS
            self._flush()  # h2 has queued the GOAWAY
            if self.transport:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, h2events.RequestReceived):
                self.streams[event.stream_id] = (event.headers, bytearray())
                self.stats.open += 1
                self.stats.requests += 1
                self.stats.peak = max(self.stats.peak, self.stats.open)
            elif isinstance(event, h2events.DataReceived):
                if event.flow_controlled_length:
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                entry = self.streams.get(event.stream_id)
                if entry is not None:
                    entry[1].extend(event.data)
            elif isinstance(event, h2events.StreamEnded):
                self._dispatch(event.stream_id)
            elif isinstance(event, h2events.StreamReset):
                self._forget(event.stream_id)
            elif isinstance(event, h2events.ConnectionTerminated):
                self._flush()
                if self.transport:
                    self.transport.close()
                return
        self._flush()

    def _forget(self, stream_id: int) -> None:
        if self.streams.pop(stream_id, None) is not None:
            self.stats.open -= 1
        held = self.timers.pop(stream_id, None)
        if held is not None:  # the client reset the stream before the held answer went out
            held[0].cancel()
            _abandoned(held[1])

    def _dispatch(self, stream_id: int) -> None:
        entry = self.streams.get(stream_id)
        if entry is None or stream_id in self.timers:
            return
        raw, body = entry
        headers: dict[str, str] = {}
        for name, value in raw:
            headers[name.decode("latin-1")] = value.decode("latin-1")
        request = Request(method=headers.get(":method", ""), path=headers.get(":path", ""), headers=headers,
                          raw_headers=raw, body=bytes(body), connection_id=self.stats.id, stream_id=stream_id,
                          received_wall=time.time(), received_mono=time.monotonic())
        try:
            response = self.server.handler(request)
        except Exception:  # noqa: BLE001 - a bug in a fake must answer 500, not kill the connection
            response = Response(500, [("content-type", "application/json")], b'{"reason":"InternalServerError"}')
        if response.delay > 0:
            self.timers[stream_id] = (self.loop.call_later(response.delay, self._answer, stream_id, response),
                                      response)
        else:
            self._answer(stream_id, response)

    def _answer(self, stream_id: int, response: Response) -> None:
        self.timers.pop(stream_id, None)
        if self.streams.pop(stream_id, None) is None:
            return  # the client gave up on it (RST_STREAM)
        self.stats.open -= 1
        headers = [(":status", str(response.status)), *response.headers,
                   ("content-length", str(len(response.body)))]
        try:
            self.conn.send_headers(stream_id, headers, end_stream=not response.body)
            if response.body:
                self.conn.send_data(stream_id, response.body, end_stream=True)
        except h2exceptions.H2Error:
            try:
                self.conn.reset_stream(stream_id, ErrorCodes.INTERNAL_ERROR)
            except h2exceptions.H2Error:
                pass
        self._schedule_flush()
