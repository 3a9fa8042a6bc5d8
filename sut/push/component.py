"""The push fan-out's two components of ``python -m sut``: the fake gateways' process, then the fan-out worker."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..context import Context
from .fanout import Fanout
from .gatewayinfo import GatewayInfo
from .gateways.process import GatewayProcess
from .retention import RETENTION_INTERVAL_S, purge
from .tls import make_pki, new_es256_key, new_rsa_key

log = logging.getLogger("sut.push")

APNS_TOPIC = "se.inera.1177.app"  # the app's bundle id: the only topic the fake APNs accepts
FCM_PROJECT = "app-1177-test"

Stop = Callable[[], Awaitable[None]]


async def start_gateways(ctx: Context) -> Stop:
    """Make the run's CA, certificate and provider keys, and start the fake APNs, FCM, SMS and e-mail."""
    folder = Path(tempfile.mkdtemp(prefix="sut-push-"))
    pki = make_pki(folder)
    apns_key, apns_public = new_es256_key()
    fcm_key, fcm_public = new_rsa_key()
    info = GatewayInfo(
        urls={}, ca_pem=pki.ca_pem, apns_key=apns_key, apns_key_id=secrets.token_hex(5).upper(),
        apns_team_id=secrets.token_hex(5).upper(), apns_topic=APNS_TOPIC, fcm_key=fcm_key,
        fcm_key_id=secrets.token_hex(20), fcm_project=FCM_PROJECT,
        fcm_client_email=f"push-sender@{FCM_PROJECT}.iam.gserviceaccount.com", fcm_token_uri="",  # nosec B106 # an empty URI, not a password
        sms_api_key=secrets.token_urlsafe(24), email_api_key=secrets.token_urlsafe(24),
        webhook_secret=secrets.token_urlsafe(32))
    knobs = json.loads(ctx.settings.gateway_knobs) if ctx.settings.gateway_knobs else {}
    process = GatewayProcess()
    config = {
        "host": "127.0.0.1",  # the fakes are the backend's own neighbours: always IPv4 loopback
        "pki": {"ca_pem": str(pki.ca_pem), "cert_pem": str(pki.cert_pem), "key_pem": str(pki.key_pem)},
        "apns_public_key": apns_public, "apns_key_id": info.apns_key_id, "apns_team_id": info.apns_team_id,
        "apns_topic": APNS_TOPIC, "fcm_public_key": fcm_public, "fcm_project": FCM_PROJECT,
        "fcm_client_email": info.fcm_client_email,
        "sms_api_key": info.sms_api_key, "email_api_key": info.email_api_key,
        "webhook_url": f"{ctx.urls['base']}/push/v1/delivery-reports", "webhook_secret": info.webhook_secret,
        "knobs": knobs,
    }
    try:
        ready = await process.start(config)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    info.urls = {**ready["urls"], "inspect": ready["inspect"]}
    info.fcm_token_uri = ready["fcm_token_uri"]  # the fake FCM's own /token: the audience of our assertions
    info.pid = process.pid
    ctx.urls.update({"apns": info.urls["apns"], "fcm": info.urls["fcm"], "sms": info.urls["sms"],
                     "email": info.urls["email"], "gateway_inspect": info.urls["inspect"]})
    ctx.extras["push_gateways"] = info

    async def stop() -> None:
        await process.stop()
        shutil.rmtree(folder, ignore_errors=True)

    return stop


async def start_fanout(ctx: Context) -> Stop:
    """The outbox worker with its provider clients; it picks up what an earlier run left queued."""
    info: GatewayInfo = ctx.extras["push_gateways"]
    fanout = Fanout(ctx, info)
    await fanout.start()
    ctx.extras["push"] = fanout
    log.info("push fan-out started with %d sender tasks", fanout.workers)
    retention = asyncio.create_task(_retention(ctx), name="push-retention")

    async def stop() -> None:
        retention.cancel()
        await asyncio.gather(retention, return_exceptions=True)
        bulk = ctx.extras.pop("push_bulk", None)
        if bulk is not None:
            await asyncio.to_thread(bulk.stop)  # a running bulk job ends at its next chunk
        ctx.extras.pop("push", None)
        await fanout.stop()

    return stop


def run_retention(ctx: Context) -> dict[str, object]:
    """One run of the delivery records' retention job (BR-RETENTION-1), in a unit of work of its own."""
    with ctx.db() as db:
        return purge(db)


async def _retention(ctx: Context) -> None:
    """The retention job, at start and then every hour; a failed run is logged and tried again next time."""
    while True:
        try:
            result = await asyncio.to_thread(run_retention, ctx)
            if result["deliveries"]:
                log.info("retention: %s delivery records deleted", result["deliveries"])
        except Exception:
            log.exception("the retention job of delivery records failed")
        await asyncio.sleep(RETENTION_INTERVAL_S)
