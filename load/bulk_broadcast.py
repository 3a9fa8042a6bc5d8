"""A bulk broadcast to N devices and its drain time.

``locust -f load/bulk_broadcast.py`` with ``LOAD_PLAN``: one staff member sends one bulk notification to every
patient of a seeded cohort (``POST /staff/v1/bulk-sends``), then follows the job until every delivery is settled.
The drain time (bulk call to the job settled) is fired as a locust event; the harness takes the exact per-device
figures from the gateways' records.
"""

from __future__ import annotations

import time

import gevent
import httpx
from locust import FastHttpUser
from openmodel import OpenModelUser, timed


class BulkSender(OpenModelUser, FastHttpUser):
    def _accepted(self, gateway: str) -> int:
        try:
            return int(httpx.get(f"{self.plan['gateway_url']}/{gateway}/summary", timeout=5).json()["accepted"])
        except (httpx.HTTPError, ValueError, KeyError):
            return 0

    def request(self, seq: int, intended: float) -> None:
        headers = {"Authorization": f"Bearer {self.plan['staff_token']}"}
        status, started, ended, body, error = timed(
            self.client, "POST", "/staff/v1/bulk-sends", name="/staff/v1/bulk-sends", headers=headers,
            json={"subject": "Påminnelse", "body": "Dags för vaccination.", "all_patients": True})
        self.log.write("bulk send", intended, started, ended, status, error is None,
                       body.get("job_id", "") if isinstance(body, dict) else "")
        self.fire("bulk send", intended, ended, 0, error)
        if error is not None:
            return
        deadline = time.time() + float(self.plan.get("drain_s", 60))
        # the drain is watched at the gateways (no database); the job's status, a count over its deliveries in a
        # transaction holding SQLite's write lock, is asked only once they have taken every delivery
        while time.time() < deadline and sum(self._accepted(gw) for gw in ("apns", "fcm")) < self.plan["devices"]:
            gevent.sleep(0.2)
        while time.time() < deadline:
            _, _, _, job, _ = timed(self.client, "GET", f"/staff/v1/bulk-sends/{body['job_id']}",
                                    name="/staff/v1/bulk-sends/{id}", headers=headers)
            if isinstance(job, dict) and job.get("state") != "running" and job.get("outbox_pending") == 0 and \
                    job["deliveries"]["queued"] == 0 and job["deliveries"]["total"] >= self.plan["devices"]:
                settled = time.time()
                self.log.write("bulk drained", intended, started, settled, 200, True, body["job_id"])
                self.fire("bulk drained", intended, settled, job["deliveries"]["total"], None)
                return
            gevent.sleep(0.2)
        self.log.write("bulk drained", intended, started, time.time(), 0, False, body["job_id"])
