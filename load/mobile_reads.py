"""Mobile API read traffic at a fixed arrival rate (open model) with weighted tasks.

``locust -f load/mobile_reads.py`` with ``LOAD_PLAN``: logged-in app users (tokens from the harness, which seeded
them through the control API and logged them in before the run) open the start screen, the inbox and a message,
in the plan's weights (default 3 : 2 : 1), at ``rate`` requests per second in all.
"""

from __future__ import annotations

from locust import FastHttpUser
from openmodel import OpenModelUser, timed, weighted

APP_AGENT = "1177-appen/3.2.0 (ios)"


class MobileReader(OpenModelUser, FastHttpUser):
    def on_start(self) -> None:
        super().on_start()
        self.users = self.plan["users"]
        self.pick = weighted(self.plan.get("weights", {"start": 3, "inbox": 2, "message": 1}))

    def request(self, seq: int, intended: float) -> None:
        user = self.users[seq % len(self.users)]
        what = self.pick(self.rng)
        path = {"start": "/api/v1/start", "inbox": "/api/v1/inbox/messages"}.get(what)
        name = path or "/api/v1/inbox/messages/{id}"
        if path is None:
            path = f"/api/v1/inbox/messages/{self.rng.choice(user['message_ids'])}"
        status, started, ended, _, error = timed(
            self.client, "GET", path, name=name,
            headers={"Authorization": f"Bearer {user['token']}", "User-Agent": APP_AGENT})
        self.log.write(f"mobile {what}", intended, started, ended, status, error is None)
        self.fire(f"mobile {what}", intended, ended, 0, error)
