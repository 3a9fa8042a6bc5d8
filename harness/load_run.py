"""One load scenario end to end: seed through the control API, run locust, collect the gateways' records, and
compute the figures the SLO policy judges. Used by suites/load (the release layer) and tests/ (the layer's own
tests, with faults switched on). Free of pytest; locust runs as a subprocess (harness.load).

Scenarios:

- ``staff``: staff sends at a fixed arrival rate to patients with an iOS and an Android device, and to some who
  chose SMS; latency from the intended send to the gateway's answer, exactly-once accounting per channel.
- ``faults``: the same under the gateways' fault knobs: 5 % 503, 1 % of tokens (at least one) 410/UNREGISTERED,
  a 429 burst with retry-after on each push gateway, a 2 s stall of a few percent of the sends in the measured
  window (the corrected p99 shows it), and later a 5 s stall of three sends per gateway, past the fan-out's send
  timeout (3 s in this scenario): those time out and are retried while the gateway still takes the first attempt,
  so a retry that is not idempotent shows as a duplicate.
- ``mobile``: the mobile API's start screen, inbox and a message, weighted, at a fixed arrival rate.
- ``bulk``: one bulk broadcast to a small and to a four times larger cohort; drain time and deliveries/s.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.api_client import APP_USER_AGENT
from harness.load import (
    LOAD_DIR,
    Accounting,
    Latency,
    LocustRun,
    Record,
    RunFigures,
    Send,
    account,
    api_figures,
    locust_command,
    parse_records,
    read_sends,
    run_locust,
)

APP_VERSION = APP_USER_AGENT.split("/")[1].split()[0]  # the version the app's User-Agent gives
LOCUSTFILES = {"staff": "staff_sends.py", "faults": "staff_sends.py", "mobile": "mobile_reads.py",
               "bulk": "bulk_broadcast.py"}


@dataclass
class Profile:
    """How hard and how long: the default budget is small enough for every release on a loaded 2-core
    machine with a wide margin; ``scale`` multiplies the rates (``--load-scale 10``)."""

    staff_rate: float = 4.0
    fault_rate: float = 20.0  # enough requests that 5 % of 503s stay well inside the 10 % retry allowance
    mobile_rate: float = 15.0
    warmup_s: float = 3.0
    measure_s: float = 12.0
    patients: int = 20
    sms_patients: int = 4
    mobile_users: int = 8
    bulk_devices: tuple[int, int] = (500, 2000)
    workers: int = 0  # locust worker processes (0: one local process)

    def scaled(self, scale: float) -> Profile:
        return Profile(self.staff_rate * scale, self.fault_rate * scale, self.mobile_rate * scale, self.warmup_s,
                       self.measure_s, max(self.patients, int(self.patients * scale)), self.sms_patients,
                       self.mobile_users, self.bulk_devices, self.workers)


@dataclass
class ScenarioResult:
    name: str
    figures: RunFigures
    locust: LocustRun
    sends: list[Send]
    records: list[Record] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def accounting(self) -> Accounting | None:
        return self.figures.accounting


class ControlClient:
    """The control API and the staff/IdP endpoints the seeding needs (not part of the load)."""

    def __init__(self, base_url: str, gateway_url: str) -> None:
        self.base_url, self.gateway_url = base_url, gateway_url
        self.http = httpx.Client(base_url=base_url, timeout=120)
        self.gateways = httpx.Client(base_url=gateway_url, timeout=120)
        self.staff_tokens: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()
        self.gateways.close()

    def _ok(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise RuntimeError(f"{response.request.method} {response.request.url.path}: {response.status_code} "
                               f"{response.text[:200]}")
        return response.json()

    def reset_limits(self) -> None:
        """Fresh login and send allowances (the control API's reset), keeping the faults that are on."""
        active = self._ok(self.http.get("/_sut/faults"))["active"]
        self._ok(self.http.post("/_sut/reset"))
        self._ok(self.http.put("/_sut/faults", json={"active": active}))

    def person(self) -> dict[str, Any]:
        return self._ok(self.http.post("/_sut/persons", json={"role": "adult"}))

    def staff_token(self, hsa_id: str) -> str:
        if hsa_id not in self.staff_tokens:
            code = self._ok(self.http.post("/idp/api/staff-login", json={"hsa_id": hsa_id}))["code"]
            self.staff_tokens[hsa_id] = self._ok(self.http.post(
                "/idp/token", data={"grant_type": "authorization_code", "code": code}))["access_token"]
        return self.staff_tokens[hsa_id]

    def app_start(self, personnummer: str, devices: list[dict[str, Any]]) -> None:
        """What the app does at every start: register its installation's push token again, through the mobile API
        (the same token; the system must replace the installation's registration, never add a second, BR-NOTIF-4)."""
        headers = {"Authorization": f"Bearer {self.app_token(personnummer)}", "User-Agent": APP_USER_AGENT}
        for device in devices:
            platform = "ios" if device["provider"] == "apns" else "android"
            self._ok(self.http.put(f"/api/v1/devices/{device['installation_id']}", headers=headers, json={
                "platform": platform, "token": device["token"], "app_version": APP_VERSION}))

    def app_token(self, personnummer: str) -> str:
        code = self._ok(self.http.post("/idp/api/login", json={"personnummer": personnummer,
                                                                "method": "bankid"}))["code"]
        return self._ok(self.http.post("/idp/token", data={"grant_type": "authorization_code",
                                                           "code": code}))["access_token"]

    def own_staff(self, person_id: str) -> str:
        return self._ok(self.http.get(f"/_sut/persons/{person_id}/staff"))["own_unit"]["hsa_id"]

    def settle(self, quiet_s: float = 0.5, timeout_s: float = 30.0) -> bool:
        """Wait until the push fan-out has had nothing queued, in flight or waiting for a retry for ``quiet_s``
        (several of its outbox polls), so every attempt it will make has reached the gateways' records; whether it
        did within ``timeout_s`` (if not, the accounting shows what is missing)."""
        deadline, quiet_since = time.monotonic() + timeout_s, None
        while time.monotonic() < deadline:
            state = self._ok(self.http.get("/_sut/push/state"))
            now = time.monotonic()
            if state["queue"] or state["in_flight"] or state["waiting_retry"]:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= quiet_s:
                return True
            time.sleep(0.1)
        return False

    def reset_gateways(self) -> None:
        self._ok(self.gateways.post("/reset"))

    def knobs(self, gateway: str, **changes: Any) -> dict[str, Any]:
        return self._ok(self.gateways.patch(f"/{gateway}/knobs", json=changes))

    def records(self, gateway: str) -> list[Record]:
        knobs = self._ok(self.gateways.get(f"/{gateway}/knobs"))
        response = self.gateways.get(f"/{gateway}/records.csv")
        response.raise_for_status()
        return parse_records(gateway, response.text, float(knobs["throttle"]["retry_after"]))


# -- seeding ----------------------------------------------------------------------------------------------------------
def seed_patients(control: ControlClient, push_patients: int, sms_patients: int) -> list[dict[str, Any]]:
    """Patients for staff sends, through the control API: most with an iOS and an Android device and push on
    (SMS off), some with SMS only; each with the staff member of their own care unit, logged in."""
    patients = []
    for i in range(push_patients + sms_patients):
        person = control.person()
        entry: dict[str, Any] = {"id": person["id"], "push": i < push_patients, "addresses": []}
        if entry["push"]:
            devices = control._ok(control.http.post("/_sut/push/devices", json={
                "person_id": person["id"], "count": 2, "platform": "mixed", "sms": False}))["devices"]
            control.app_start(person["personnummer"], devices)
            for seeded in person["records"]["devices"]:  # the seed's own devices are notified too
                devices.append(control._ok(control.http.get(f"/_sut/push/devices/{seeded['id']}")))
            entry["addresses"] = [[d["provider"], d["token"]] for d in devices]
        entry["staff_token"] = control.staff_token(control.own_staff(person["id"]))
        patients.append(entry)
    return patients


def sms_addresses(control: ControlClient, sends: list[Send], patients: list[dict[str, Any]]) -> None:
    """The phone number of each SMS patient, from the delivery rows of one message sent to them (the seed's
    numbers are not shown by the control API); what reached the gateway is still counted from its records."""
    first: dict[str, str] = {}
    for send in sends:
        if send.ok and send.message_id:
            first.setdefault(send.patient, send.message_id)
    for patient in patients:
        if patient["push"] or patient["id"] not in first:
            continue
        rows = control._ok(control.http.get("/_sut/push/deliveries", params={"message_id": first[patient["id"]]}))
        patient["addresses"] = [["sms", r["address"]] for r in rows["deliveries"] if r["channel"] == "sms"]


# -- running -----------------------------------------------------------------------------------------------------------
def _run(name: str, control: ControlClient, folder: Path, plan: dict[str, Any], profile: Profile,
         run_time_s: float) -> LocustRun:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("sends-*.csv"):
        old.unlink()
    plan = {"folder": str(folder), "gateway_url": control.gateway_url, "processes": max(1, profile.workers),
            **plan}
    plan_path = folder / "plan.json"
    plan_path.write_text(json.dumps(plan))
    users = max(1, profile.workers)
    command = locust_command(LOAD_DIR / LOCUSTFILES[name], control.base_url, folder, users=users,
                             run_time_s=math.ceil(run_time_s), workers=profile.workers)
    run = run_locust(command, folder, env={"LOAD_PLAN": str(plan_path), "PYTHONPATH": str(LOAD_DIR)},
                     timeout_s=run_time_s + 60, processes=max(1, profile.workers))
    if not list(folder.glob("sends-*.csv")):
        raise RuntimeError(f"locust ran but logged no sends (exit {run.returncode}):\n{run.output[-2000:]}")
    return run


FAULT_SEND_TIMEOUT_S = 3.0  # the fan-out's send timeout in the fault scenario: above its 2 s stall, below its 4 s one
TIMEOUT_STALL_S = 5.0


def staff_scenario(control: ControlClient, folder: Path, profile: Profile, *, faults: bool = False,
                   stall_s: float = 2.0, knobs: dict[str, dict[str, Any]] | None = None, unregistered: int = 0,
                   config: dict[str, float] | None = None) -> ScenarioResult:
    """Staff sends at a fixed rate; the exactly-once accounting and the push latency from the gateways.

    ``faults``: the fault scenario's knobs (see the module). ``knobs``: more knobs per gateway; ``unregistered``:
    that many of the seeded push tokens answer 410/UNREGISTERED; ``config``: the fan-out's run-time settings
    (send timeout, backoff) for the run, restored afterwards."""
    name = "faults" if faults else "staff"
    rate = profile.fault_rate if faults else profile.staff_rate
    control.reset_limits()
    patients = seed_patients(control, profile.patients, profile.sms_patients)
    control.reset_gateways()
    notes = []
    for gateway, changes in (knobs or {}).items():
        control.knobs(gateway, **changes)
    push_tokens = [a for p in patients if p["push"] for a in p["addresses"]]
    if faults:  # 1 % of the tokens are gone (at least one, so the pruning is exercised in every run)
        unregistered = max(unregistered, 1, round(0.01 * len(push_tokens)))
    gone = push_tokens[-unregistered:] if unregistered else []
    for gateway in ("apns", "fcm"):
        if gone or faults:
            control.knobs(gateway, unregistered={"tokens": [t for g, t in gone if g == gateway],
                                                 "share": 0.01 if faults else 0.0})
    if faults:  # a timeout, not only a slow answer: the second stall below outlasts it
        config = {"send_timeout": FAULT_SEND_TIMEOUT_S, **(config or {})}
    before = control._ok(control.http.get("/_sut/push/state"))["config"] if config else {}
    if config:
        control._ok(control.http.put("/_sut/push/config", json=config))
    stalls: list[dict[str, Any]] = []
    if faults:
        for gateway in ("apns", "fcm"):
            control.knobs(gateway, errors={"rate": 0.05, "status": 503}, throttle={"count": 2, "retry_after": 1})
        # the stall: a few percent of the measured window's pushes (counted from the seeded tokens, the seed's own
        # devices included, so the corrected p99 shows it whatever the seed gave), a third of the way into it;
        # the timeouts: three sends per gateway two thirds of the way in (applied by the load's own schedule)
        pushes = rate * profile.measure_s * len(push_tokens) / len(patients)
        count = max(3, math.ceil(0.03 * pushes))
        at = profile.warmup_s + profile.measure_s / 3
        stalls.append({"at_s": at, "seconds": stall_s, "count": count // 2 + 1})
        notes.append(f"stall of {stall_s:g} s on {2 * (count // 2 + 1)} sends at about {at:.0f} s")
        late = profile.warmup_s + 2 * profile.measure_s / 3
        stalls.append({"at_s": late, "seconds": TIMEOUT_STALL_S, "count": 3})
        notes.append(f"stall of {TIMEOUT_STALL_S:g} s, past the send timeout of {FAULT_SEND_TIMEOUT_S:g} s, on 6 "
                     f"sends at about {late:.0f} s")
    plan = {"rate": rate, "warmup_s": profile.warmup_s, "measure_s": profile.measure_s, "drain_s": 15,
            "patients": patients, "stalls": stalls}
    run_time = profile.warmup_s + profile.measure_s + 8
    try:
        run = _run(name, control, folder, plan, profile, run_time)
    finally:
        if config:
            control._ok(control.http.put("/_sut/push/config", json={k: before[k] for k in config}))
    sends = read_sends(folder)
    if not control.settle():  # the last retries' answers
        notes.append("the fan-out was still busy 30 s after the load; the records were read then")
    records = [r for gateway in ("apns", "fcm", "sms") for r in control.records(gateway)]
    sms_addresses(control, sends, patients)
    addresses = {p["id"]: [tuple(a) for a in p["addresses"]] for p in patients}
    window = _window(sends, profile)
    accounting = account(sends, addresses, records, since=window[0])
    api, failed, achieved = api_figures(sends, window)
    push = Latency.of(ms for intended, ms in accounting.latencies_ms if intended < window[1]).summary()
    figures = RunFigures(name, rate, window, api, failed, achieved, push, accounting)
    return ScenarioResult(name, figures, run, sends, records, notes)


def mobile_scenario(control: ControlClient, folder: Path, profile: Profile) -> ScenarioResult:
    control.reset_limits()
    users = []
    for _ in range(profile.mobile_users):
        person = control.person()
        users.append({"token": control.app_token(person["personnummer"]),
                      "message_ids": [m["id"] for m in person["records"]["messages"]]})
    plan = {"rate": profile.mobile_rate, "warmup_s": profile.warmup_s, "measure_s": profile.measure_s,
            "drain_s": 10, "users": [u for u in users if u["message_ids"]]}
    run = _run("mobile", control, folder, plan, profile, profile.warmup_s + profile.measure_s + 5)
    sends = read_sends(folder)
    window = _window(sends, profile)
    api, failed, achieved = api_figures(sends, window)
    return ScenarioResult("mobile", RunFigures("mobile", profile.mobile_rate, window, api, failed, achieved), run,
                          sends)


def bulk_scenario(control: ControlClient, folder: Path, profile: Profile) -> ScenarioResult:
    """One bulk broadcast to the small cohort, then one to the large one: drain times, deliveries/s, and the
    accounting of the large one."""
    rates = []
    notes = []
    last: tuple[LocustRun, list[Send], list[Record], Accounting] | None = None
    for devices in profile.bulk_devices:
        control.reset_limits()
        cohort = control._ok(control.http.post("/_sut/push/cohort", json={"count": devices, "ios_share": 0.5}))
        control.reset_gateways()
        plan = {"rate": 1.0, "warmup_s": 0.0, "measure_s": 0.5, "drain_s": 120, "devices": devices,
                "staff_token": control.staff_token(cohort["staff_hsa_id"])}
        run = _run("bulk", control, folder / f"n{devices}", plan, profile, 125)
        sends = read_sends(folder / f"n{devices}")
        records = [r for gateway in ("apns", "fcm") for r in control.records(gateway)]
        drained = next((s for s in sends if s.name == "bulk drained"), None)
        call = next((s for s in sends if s.name == "bulk send"), None)
        delivered = {r.key for r in records if r.outcome == "delivered"}
        if drained is None or call is None or not drained.ok:
            notes.append(f"N = {devices}: the broadcast did not drain")
            rates.append(math.nan)
        else:
            seconds = max(r.received for r in records) - call.intended if records else math.nan
            rates.append(len(delivered) / seconds)
            notes.append(f"N = {devices:,}: {len(delivered):,} delivered in {seconds:.2f} s "
                         f"({len(delivered) / seconds:,.0f}/s), settled after {drained.ended - call.intended:.2f} s")
        duplicated = sum(r.outcome == "duplicate" for r in records)
        lost = devices - len({r.token for r in records if r.outcome == "delivered"})
        acc = Accounting({}, 0, len(records), len({(r.token, r.key) for r in records}), [])
        acc.per_channel = {"push": {"expected": devices, "delivered": len(delivered), "lost": max(0, lost),
                                    "duplicated": duplicated, "pruned": 0, "sent_after_pruning": 0}}
        last = (run, sends, records, acc)
    if last is None:
        raise RuntimeError("the bulk broadcast ran no audience size")
    run, sends, records, acc = last
    scaling = 100.0 * rates[-1] / rates[0] if len(rates) > 1 and rates[0] and not math.isnan(rates[0]) else None
    figures = RunFigures("bulk", 0.0, (0.0, 0.0), {}, math.nan, 0.0, {}, acc,
                         {"bulk.scaling_pct": scaling if scaling is not None and not math.isnan(scaling) else None,
                          "bulk.small_per_s": rates[0], "bulk.large_per_s": rates[-1]})
    return ScenarioResult("bulk", figures, run, sends, records, notes)


def _window(sends: list[Send], profile: Profile) -> tuple[float, float]:
    """The measured window: from the end of the warm-up to the last intended start (per the first process's
    start; the others start within a second and their warm-up is excluded alike)."""
    if not sends:
        return (0.0, 0.0)
    start = sends[0].intended
    return (start + profile.warmup_s, start + profile.warmup_s + profile.measure_s)
