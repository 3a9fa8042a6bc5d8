"""Staff sends at a fixed arrival rate (open model), and each message's push followed to the fake gateway.

``locust -f load/staff_sends.py`` with ``LOAD_PLAN``: care staff send messages to seeded patients
(``POST /staff/v1/messages``) at ``rate`` per second; a poller asks the fake gateways' inspection API for each
message's acceptance and fires it as a locust event ("push, intended send to gateway answer"). In the fault
scenario the first dispatcher also stalls the gateways at the plan's time (a fault knob, not load). The exact
figures are the harness's, from the gateways' records after the run; these events only show them in locust's
report too.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
import httpx
from locust import FastHttpUser
from openmodel import OpenModelUser, timed


class StaffSender(OpenModelUser, FastHttpUser):
    def on_start(self) -> None:
        super().on_start()
        self.patients: list[dict[str, Any]] = self.plan["patients"]
        self.pending: dict[str, float] = {}
        self.gateways = httpx.Client(base_url=self.plan["gateway_url"], timeout=5)
        self.poller = gevent.spawn(self._poll_loop)
        for stall in self.plan.get("stalls", []) if self.index == 0 else []:
            # the fault scenario's stalls, each at a fixed time into this run's schedule
            gevent.spawn_later(float(stall["at_s"]), self._stall, stall)

    def _stall(self, stall: dict[str, Any]) -> None:
        for gateway in ("apns", "fcm"):
            self.gateways.patch(f"/{gateway}/knobs", json={"stall": {"seconds": stall["seconds"],
                                                                      "count": stall["count"]}})

    def on_stop(self) -> None:
        self.poller.kill()
        self.gateways.close()
        super().on_stop()

    def request(self, seq: int, intended: float) -> None:
        patient = self.patients[seq % len(self.patients)]
        status, started, ended, body, error = timed(
            self.client, "POST", "/staff/v1/messages", name="/staff/v1/messages",
            headers={"Authorization": f"Bearer {patient['staff_token']}"},
            json={"patient_id": patient["id"], "subject": "Påminnelse", "body": "Dags för provtagning."})
        message_id = body.get("id", "") if isinstance(body, dict) else ""
        self.log.write("staff send", intended, started, ended, status, error is None, message_id, patient["id"])
        self.fire("staff send", intended, ended, 0, error)
        if message_id and patient.get("push"):
            self.pending[message_id] = intended

    def _poll_once(self) -> None:
        now = time.time()
        for message_id, intended in list(self.pending.items()):
            if now - intended < 0.5:
                continue
            answers = []
            for gateway in ("apns", "fcm"):
                try:
                    found = self.gateways.get(f"/{gateway}/messages/{message_id}").json()
                except (httpx.HTTPError, ValueError):
                    continue
                answers += [d["answered_wall"] for d in found.get("deliveries", []) if d["outcome"] == "delivered"]
            if answers:
                del self.pending[message_id]
                self.environment.events.request.fire(
                    request_type="PUSH", name="intended send to gateway answer",
                    response_time=(min(answers) - intended) * 1000, response_length=0, exception=None, context={})
            elif now - intended > 30:
                del self.pending[message_id]

    def _poll_loop(self) -> None:
        while True:
            gevent.sleep(1)
            self._poll_once()

    def after_run(self) -> None:
        """The last pushes, looked for until each is seen at a gateway (a lost one never is: 3 s at most)."""
        self.poller.kill()
        deadline = time.time() + 3.0
        while self.pending and time.time() < deadline:
            gevent.sleep(0.25)
            self._poll_once()
