"""Provider clients: APNs (HTTP/2, JWT provider token), FCM HTTP v1 (HTTP/2, OAuth bearer), SMS and e-mail.

Each turns one delivery into one provider request and the answer into an ``Outcome`` the fan-out acts on.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt

from .. import clock
from . import payload
from .h2client import H2Pool
from .tls import client_context

if TYPE_CHECKING:
    from .fanout import Job
    from .gatewayinfo import GatewayInfo


@dataclass(slots=True)
class Outcome:
    """accepted, unregistered, invalid-token, rejected, throttled, retry, reauth."""

    kind: str
    status: int = 0
    reason: str = ""
    retry_after: float | None = None
    provider_id: str | None = None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        raise ValueError(f"a gateway URL needs a host and a port: {url!r}")
    return parts.hostname, parts.port


class ApnsClient:
    """Token-based APNs: an ES256 JWT (kid, iss = team id, iat) re-minted before it is 60 minutes old."""

    channel = "apns"

    def __init__(self, info: GatewayInfo, *, connections: int, refresh_seconds: int) -> None:
        host, port = _host_port(info.urls["apns"])
        self.pool = H2Pool(host, port, client_context(info.ca_pem), size=connections)
        self.info = info
        self.refresh_seconds = refresh_seconds
        self._token: bytes | None = None
        self._iat = 0.0
        self.mints = 0

    def provider_token(self) -> bytes:
        # The movable clock decides the token's age, so tests can move past a renewal without waiting 40 minutes.
        now = clock.now().timestamp()
        if self._token is None or now - self._iat >= self.refresh_seconds:
            self._iat = now
            self._token = jwt.encode({"iss": self.info.apns_team_id, "iat": int(now)}, self.info.apns_key,
                                     algorithm="ES256", headers={"kid": self.info.apns_key_id}).encode()
            self.mints += 1
        return self._token

    def invalidate(self) -> None:
        self._token = None

    async def send(self, job: Job, timeout: float) -> Outcome:
        key = job.key.encode()
        headers = [(b"authorization", b"bearer " + self.provider_token()), (b"apns-push-type", b"alert"),
                   (b"apns-priority", b"10"), (b"apns-expiration", str(payload.apns_expiration()).encode()),
                   (b"apns-topic", self.info.apns_topic.encode()), (b"apns-id", key), (b"apns-collapse-id", key),
                   (b"content-type", b"application/json")]
        response = await self.pool.request("POST", f"/3/device/{job.address}", headers, job.body, timeout)
        if response.status == 200:
            return Outcome("accepted", 200, provider_id=response.headers.get("apns-id"))
        try:
            reason = str(json.loads(response.body).get("reason", ""))
        except (ValueError, AttributeError):
            reason = ""
        status = response.status
        if status == 410:
            return Outcome("unregistered", status, f"apns {status} {reason}")
        if status == 400 and reason in {"BadDeviceToken", "DeviceTokenNotForTopic"}:
            return Outcome("invalid-token", status, f"apns {status} {reason}")
        if status == 403 and reason in {"ExpiredProviderToken", "InvalidProviderToken", "MissingProviderToken"}:
            self.invalidate()
            return Outcome("reauth", status, f"apns {status} {reason}")
        if status == 429:
            return Outcome("throttled", status, f"apns {status} {reason}",
                           retry_after=_retry_after(response.headers.get("retry-after")))
        if status >= 500:
            return Outcome("retry", status, f"apns {status} {reason}")
        return Outcome("rejected", status, f"apns {status} {reason}")

    async def close(self) -> None:
        await self.pool.close()


class FcmClient:
    """FCM HTTP v1: a service-account JWT (RS256) traded for an OAuth access token, then messages:send."""

    channel = "fcm"
    scope = "https://www.googleapis.com/auth/firebase.messaging"

    def __init__(self, info: GatewayInfo, *, connections: int) -> None:
        host, port = _host_port(info.urls["fcm"])
        self.pool = H2Pool(host, port, client_context(info.ca_pem), size=connections)
        self.info = info
        self.path = f"/v1/projects/{info.fcm_project}/messages:send"
        self._access: bytes | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.token_fetches = 0

    async def access_token(self, timeout: float) -> bytes:
        if self._access is not None and time.monotonic() < self._expires:
            return self._access
        async with self._lock:
            if self._access is not None and time.monotonic() < self._expires:
                return self._access
            now = int(time.time())
            assertion = jwt.encode({"iss": self.info.fcm_client_email, "scope": self.scope,
                                    "aud": self.info.fcm_token_uri, "iat": now, "exp": now + 3600},
                                   self.info.fcm_key, algorithm="RS256", headers={"kid": self.info.fcm_key_id})
            body = urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                              "assertion": assertion}).encode()
            response = await self.pool.request("POST", urlsplit(self.info.fcm_token_uri).path,
                                               [(b"content-type", b"application/x-www-form-urlencoded")], body,
                                               timeout)
            if response.status != 200:
                raise PermissionError(f"FCM token endpoint answered {response.status}")
            grant = json.loads(response.body)
            self._access = grant["access_token"].encode()
            # Renew a minute early, so no send goes out with a token about to lapse.
            self._expires = time.monotonic() + max(60, int(grant.get("expires_in", 3600)) - 60)
            self.token_fetches += 1
            return self._access

    async def send(self, job: Job, timeout: float) -> Outcome:
        try:
            token = await self.access_token(timeout)
        except PermissionError as exc:
            return Outcome("retry", 401, str(exc))
        headers = [(b"authorization", b"Bearer " + token), (b"content-type", b"application/json; UTF-8")]
        response = await self.pool.request("POST", self.path, headers, job.body, timeout)
        if response.status == 200:
            return Outcome("accepted", 200, provider_id=json.loads(response.body).get("name"))
        code, message = "", ""
        try:
            error = json.loads(response.body)["error"]
            message = str(error.get("message", ""))
            code = next((d.get("errorCode", "") for d in error.get("details", []) if "errorCode" in d),
                        str(error.get("status", "")))
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        reason = f"fcm {response.status} {code}".strip()
        if code == "UNREGISTERED" or response.status == 404:
            return Outcome("unregistered", response.status, reason)
        if response.status == 401:
            self._access = None
            return Outcome("reauth", response.status, reason)
        if code == "INVALID_ARGUMENT" and "registration token" in message:
            return Outcome("invalid-token", response.status, reason)
        if response.status == 429:
            return Outcome("throttled", response.status, reason,
                           retry_after=_retry_after(response.headers.get("retry-after")))
        if response.status >= 500:
            return Outcome("retry", response.status, reason)
        return Outcome("rejected", response.status, reason)

    async def close(self) -> None:
        await self.pool.close()


class MessagingClient:
    """The SMS or e-mail gateway over HTTP/1.1 (httpx), with the delivery's key as Idempotency-Key."""

    def __init__(self, channel: str, info: GatewayInfo, *, connections: int = 16) -> None:
        self.channel = channel
        self.url = info.urls[channel] + ("/v1/sms" if channel == "sms" else "/v1/email")
        self.api_key: str = getattr(info, f"{channel}_api_key")
        self.client = httpx.AsyncClient(limits=httpx.Limits(max_connections=connections,
                                                            max_keepalive_connections=connections))

    async def send(self, job: Job, timeout: float) -> Outcome:
        try:
            response = await self.client.post(self.url, content=job.body, timeout=timeout, headers={
                "authorization": f"Bearer {self.api_key}", "idempotency-key": job.key,
                "content-type": "application/json"})
        except httpx.TimeoutException as exc:
            raise TimeoutError(str(exc)) from exc
        except httpx.TransportError as exc:
            raise ConnectionError(str(exc)) from exc
        status = response.status_code
        if 200 <= status < 300:
            body: Any = response.json()
            return Outcome("accepted", status, provider_id=body.get("id") if isinstance(body, dict) else None)
        reason = f"{self.channel} {status}"
        if status == 429:
            return Outcome("throttled", status, reason, retry_after=_retry_after(response.headers.get("retry-after")))
        if status >= 500 or status == 401:
            return Outcome("retry", status, reason)
        return Outcome("rejected", status, reason)

    async def close(self) -> None:
        await self.client.aclose()
