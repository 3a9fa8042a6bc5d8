"""A small HTTP/2 client on asyncio and the h2 state machine: a bounded pool of TLS connections, many streams each.

Providers want few long-lived connections with many concurrent streams (Apple: "keep your connections open").
httpx's HTTP/2 path serialises too much for thousands of sends a second, so this client drives h2 directly: one
protocol object per connection, a future per stream, writes coalesced once per loop iteration, and the number
of open streams kept under what the server advertised (SETTINGS_MAX_CONCURRENT_STREAMS).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass

from .h2compat import CoalescedWrites, ErrorCodes, new_connection
from .h2compat import config as h2config
from .h2compat import events as h2events
from .h2compat import exceptions as h2exceptions


class H2Error(Exception):
    """The exchange failed in transport; whether the server saw the request is unknown unless a subclass says."""


class StreamRefused(H2Error):
    """The server refused the stream before processing it (REFUSED_STREAM, or above GOAWAY's last stream)."""


class ConnectionLost(H2Error):
    """The connection closed or could not be opened."""


@dataclass(slots=True)
class H2Response:
    status: int
    headers: dict[str, str]
    body: bytes


class _Stream:
    __slots__ = ("body", "future", "headers", "status")

    def __init__(self, future: asyncio.Future[H2Response]) -> None:
        self.future = future
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()


class H2ClientProtocol(CoalescedWrites, asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, stream_cap: int) -> None:
        self.loop = loop
        # Our own headers are well-formed by construction: h2's per-header validation and normalisation cost a
        # quarter of each send, so they are off here (the fake gateways check what the providers check).
        self.conn = new_connection(h2config.H2Configuration(
            client_side=True, header_encoding=None, validate_inbound_headers=False, normalize_inbound_headers=False,
            validate_outbound_headers=False, normalize_outbound_headers=False))
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.stream_cap = stream_cap
        self.limit = 1  # until the server's SETTINGS arrive (APNs, too, starts at one stream)
        self.active = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.blocked: dict[int, memoryview] = {}  # bodies waiting for flow-control window
        self.ready: asyncio.Future[None] = loop.create_future()
        self.closed = False
        self.goaway = False
        self._flush_pending = False

    @property
    def usable(self) -> bool:
        return not self.closed and not self.goaway

    # -- asyncio.Protocol --------------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's TLS transport is not an asyncio.Transport subclass, but has the same methods)
        self.transport = transport  # type: ignore[assignment]
        self.conn.initiate_connection()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail_all(ConnectionLost(f"connection lost: {exc or 'closed by peer'}"))

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2exceptions.ProtocolError as exc:
            self._flush()
            self.closed = True
            self._fail_all(ConnectionLost(f"protocol error: {exc}"))
            if self.transport:
                self.transport.close()
            return
        for event in events:
            self._on_event(event)
        self._flush()

    def _on_event(self, event: h2events.Event) -> None:
        if isinstance(event, h2events.ResponseReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                for name, value in event.headers:
                    if name == b":status":
                        stream.status = int(value)
                    else:
                        stream.headers[name.decode()] = value.decode()
        elif isinstance(event, h2events.DataReceived):
            if event.flow_controlled_length:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.body += event.data
        elif isinstance(event, h2events.StreamEnded):
            stream = self.streams.pop(event.stream_id, None)
            if stream is not None and not stream.future.done():
                stream.future.set_result(H2Response(stream.status, stream.headers, bytes(stream.body)))
        elif isinstance(event, h2events.StreamReset):
            self.blocked.pop(event.stream_id, None)
            stream = self.streams.pop(event.stream_id, None)
            if stream is not None and not stream.future.done():
                error = (StreamRefused("stream refused") if event.error_code == ErrorCodes.REFUSED_STREAM
                         else H2Error(f"stream reset by server ({event.error_code!r})"))
                stream.future.set_exception(error)
        elif isinstance(event, h2events.RemoteSettingsChanged):
            self.limit = max(1, min(self.stream_cap, self.conn.remote_settings.max_concurrent_streams))
            if not self.ready.done():
                self.ready.set_result(None)
            self._wake()
        elif isinstance(event, h2events.WindowUpdated):
            self._send_blocked()
        elif isinstance(event, h2events.ConnectionTerminated):
            # GOAWAY: streams above last_stream_id were never processed and may safely go elsewhere.
            self.goaway = True
            last = event.last_stream_id or 0
            for stream_id in [s for s in self.streams if s > last]:
                stream = self.streams.pop(stream_id)
                if not stream.future.done():
                    stream.future.set_exception(StreamRefused("connection going away"))
            self._wake()
            if not self.streams and self.transport:
                self.transport.close()

    # -- sending -----------------------------------------------------------------------------------------------------
    def _send_body(self, stream_id: int, body: memoryview) -> None:
        while body:
            window = self.conn.local_flow_control_window(stream_id)
            size = min(window, self.conn.max_outbound_frame_size, len(body))
            if size <= 0:
                self.blocked[stream_id] = body
                return
            chunk, body = body[:size], body[size:]
            self.conn.send_data(stream_id, bytes(chunk), end_stream=not body)

    def _send_blocked(self) -> None:
        for stream_id, body in list(self.blocked.items()):
            del self.blocked[stream_id]
            if stream_id in self.streams:
                self._send_body(stream_id, body)

    def _wake(self) -> None:
        while self.waiters and (self.active < self.limit or not self.usable):
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if self.usable:
                    return  # one slot freed, one waiter woken

    def _fail_all(self, error: H2Error) -> None:
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            if not stream.future.done():
                stream.future.set_exception(error)
        self._wake()

    def _cancel(self, stream_id: int) -> None:
        """Give up on a stream (timeout or caller cancelled): tell the server, forget it."""
        self.blocked.pop(stream_id, None)
        if self.streams.pop(stream_id, None) is not None and not self.closed:
            try:
                self.conn.reset_stream(stream_id, ErrorCodes.CANCEL)
            except h2exceptions.H2Error:
                pass
            self._schedule_flush()

    async def request(self, headers: list[tuple[bytes, bytes]], body: bytes, timeout: float) -> H2Response:
        """One exchange; raises TimeoutError after ``timeout`` seconds (the stream is then reset)."""
        while self.active >= self.limit and self.usable:
            waiter = self.loop.create_future()
            self.waiters.append(waiter)
            await waiter
        if not self.usable:
            raise ConnectionLost("connection not usable")
        self.active += 1
        stream_id = 0
        try:
            try:
                stream_id = self.conn.get_next_available_stream_id()
                stream = _Stream(self.loop.create_future())
                self.streams[stream_id] = stream
                self.conn.send_headers(stream_id, headers, end_stream=not body)
            except h2exceptions.TooManyStreamsError as exc:
                self.streams.pop(stream_id, None)
                raise StreamRefused("server lowered its stream limit") from exc
            except h2exceptions.H2Error as exc:
                self.streams.pop(stream_id, None)
                raise ConnectionLost(f"cannot open a stream: {exc}") from exc
            if body:
                self._send_body(stream_id, memoryview(body))
            self._schedule_flush()
            timer = self.loop.call_later(timeout, self._expire, stream_id)
            try:
                return await stream.future
            finally:
                timer.cancel()
                if stream_id in self.streams:  # still open: the caller gave up (a cancelled task cancels the future)
                    self._cancel(stream_id)
        finally:
            self.active -= 1
            self._wake()
            if self.goaway and not self.streams and self.transport:
                self.transport.close()

    def _expire(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None and not stream.future.done():
            self._cancel(stream_id)
            stream.future.set_exception(TimeoutError(f"no answer on stream {stream_id}"))

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            try:
                self.conn.close_connection()
                self._flush()
            except h2exceptions.H2Error:
                pass
            self.transport.close()


class H2Pool:
    """At most ``size`` connections to one origin; each request goes to the least busy usable connection."""

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext, *, size: int = 2, stream_cap: int = 1000,
                 connect_timeout: float = 5.0) -> None:
        self.host, self.port, self.ssl_context = host, port, ssl_context
        self.size, self.stream_cap, self.connect_timeout = size, stream_cap, connect_timeout
        self.authority = f"{host}:{port}".encode()
        self.connections: list[H2ClientProtocol] = []
        self.opened = 0
        self._connecting: asyncio.Task[H2ClientProtocol] | None = None

    async def _connect(self) -> H2ClientProtocol:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(loop.create_connection(
                lambda: H2ClientProtocol(loop, self.stream_cap), self.host, self.port, ssl=self.ssl_context,
                server_hostname=self.host), self.connect_timeout)
            await asyncio.wait_for(protocol.ready, self.connect_timeout)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise ConnectionLost(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self.opened += 1
        return protocol

    def _connected(self, task: asyncio.Task[H2ClientProtocol]) -> None:
        self._connecting = None
        if not task.cancelled() and task.exception() is None:
            self.connections.append(task.result())

    async def connection(self) -> H2ClientProtocol:
        self.connections = [c for c in self.connections if c.usable]
        if len(self.connections) < self.size and self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(self._connected)
        if not self.connections:
            if self._connecting is None:
                raise RuntimeError("no connection attempt to wait for")
            await asyncio.shield(self._connecting)  # its done-callback has added the connection by now
            if not self.connections:
                raise ConnectionLost(f"no connection to {self.host}:{self.port}")
        return min(self.connections, key=lambda c: c.active / c.limit)

    async def request(self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"",
                      timeout: float = 10.0) -> H2Response:
        connection = await self.connection()
        head = [(b":method", method.encode()), (b":scheme", b"https"), (b":authority", self.authority),
                (b":path", path.encode()), *headers]
        return await connection.request(head, body, timeout)

    def streams_in_use(self) -> int:
        return sum(c.active for c in self.connections)

    async def close(self) -> None:
        connecting = self._connecting
        if connecting is not None and not connecting.done():
            connecting.cancel()
            try:
                await connecting
            except (asyncio.CancelledError, H2Error):
                pass
        for connection in self.connections:
            connection.close()
        self.connections = []
        await asyncio.sleep(0)
