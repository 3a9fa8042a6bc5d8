"""Benchmark of the push fan-out: one staff bulk send to N devices (iOS and Android mixed), end to end.

``python -m harness.bench`` (or ``nox -s bench``) starts the reference system with its fake gateways, seeds a care unit
with N patients of one device each, sends one bulk notification, and waits until every delivery is settled. It
prints deliveries/s, p50/p95/p99 from enqueue to the gateway's receipt (HdrHistogram), lost, duplicated, and the
peak RSS of every process involved. A benchmark, not a test: it judges against the targets but never asserts.
The system runs on SQLite unless ``SUT_DATABASE_URL`` names another database (PostgreSQL), which it then uses.

Absolute rates differ by machine and by what else runs on it, so the same run also measures the ceiling: how fast
the fake gateways take pushes from a plain HTTP/2 client (the fan-out's own, sut/push/h2client.py) with no
database behind it, the same mix, connections and concurrency; the fan-out is reported as a share of it. The run
prints what its figures depend on: the load average before and after, the HTTP/2 state machine (jh2 or the pure-
Python h2), the event loop (uvloop or asyncio's), the database.

Latency is taken per delivery from the moment the fan-out enqueued it (its Delivery row) to the moment the fake
gateway received it, both on the machine's wall clock. The wait of the message itself in the outbox while a
100,000-strong backlog drains is shown apart ("outbox to gateway"): it measures the size of the burst, not the
fan-out's responsiveness.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from hdrh.histogram import HdrHistogram
from sqlalchemy.engine import make_url

from harness import bench_ceiling
from harness.sut_process import SutProcess
from sut.push import h2compat

TARGETS = {"deliveries_per_s": 2000, "p99_ms": 1000, "lost": 0, "duplicated": 0, "seconds_100k": 60, "rss_mb": 500}


@dataclass
class Result:
    devices: int
    ios: int
    android: int
    deliveries: int
    seconds_total: float
    deliveries_per_s: float
    latency_ms: dict[str, float]
    outbox_to_gateway_ms: dict[str, float]
    lost: int
    duplicated: int
    replays: int
    failed: int
    messages_written_s: float  # the bulk job writing the N messages and outbox events
    load_before: float  # the machine's one-minute load average as the run began (other work skews figures)
    database: str = "sqlite"  # the system's database: SQLite (a fresh file) unless SUT_DATABASE_URL names another
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    load_after: float = 0.0
    h2: str = h2compat.IMPLEMENTATION  # the HTTP/2 state machine of both ends: jh2 (Rust HPACK) or pure-Python h2
    ceiling_per_s: float = 0.0  # the fake gateways' intake from a plain HTTP/2 client, measured in the same run
    ceiling_pushes: int = 0
    ceiling_load: float = 0.0

    @property
    def ceiling_share(self) -> float:
        return self.deliveries_per_s / self.ceiling_per_s if self.ceiling_per_s else 0.0


def _hwm_mb(pid: int) -> float | None:
    """The kernel's own peak resident set size of a process (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssWatcher:
    """Samples the RSS of a process tree; the peaks are the larger of the samples and the kernel's VmHWM."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peaks: dict[str, float] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _name(self, proc: psutil.Process) -> str:
        if proc.pid not in self.names:
            cmd = " ".join(proc.cmdline()[1:4]) if proc.pid != self.root.pid else "python -m sut"
            self.names[proc.pid] = "gateways" if "sut.push.gateways" in cmd else cmd or str(proc.pid)
        return self.names[proc.pid]

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        for proc in procs:
            try:
                name = "backend (python -m sut)" if proc.pid == self.root.pid else self._name(proc)
                rss = proc.memory_info().rss / 2**20
                hwm = _hwm_mb(proc.pid) or 0.0
            except psutil.Error:
                continue
            self.peaks[name] = max(self.peaks.get(name, 0.0), rss, hwm)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def __enter__(self) -> RssWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sample()
        self._stop.set()
        self._thread.join(2)


def _percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {}
    hist = HdrHistogram(1, 3_600_000_000, 3)  # microseconds, 1 us to 1 h, 3 significant digits
    for v in values_ms:
        hist.record_value(max(1, int(v * 1000)))
    return {p: round(hist.get_value_at_percentile(q) / 1000, 1)
            for p, q in (("p50", 50), ("p95", 95), ("p99", 99), ("p99.9", 99.9))} | {
        "max": round(hist.get_max_value() / 1000, 1)}


def _staff_token(http: httpx.Client, hsa_id: str) -> str:
    code = http.post("/idp/api/staff-login", json={"hsa_id": hsa_id})
    code.raise_for_status()
    tokens = http.post("/idp/token", data={"grant_type": "authorization_code", "code": code.json()["code"]})
    tokens.raise_for_status()
    return tokens.json()["access_token"]


def database_backend() -> str:
    """The database the system under benchmark uses: SQLite, or the backend SUT_DATABASE_URL names."""
    url = os.environ.get("SUT_DATABASE_URL")
    return make_url(url).get_backend_name() if url else "sqlite"


def run_once(devices: int, ios_share: float, workers: int | None, timeout: float, log_dir: Path) -> Result:
    extra = ["--push-workers", str(workers)] if workers else []
    with SutProcess(log_path=log_dir / f"sut-{devices}.log", extra_args=extra, start_timeout=60) as sut:
        urls = sut.urls
        if sut.proc is None:
            raise RuntimeError("the reference system did not start")
        with RssWatcher(sut.proc.pid) as rss, httpx.Client(base_url=urls["base"], timeout=600) as http, \
                httpx.Client(base_url=urls["gateway_inspect"], timeout=600) as gateways:
            print(f"  seeding {devices:,} patients with one device each ...", flush=True)
            cohort = http.post("/_sut/push/cohort", json={"count": devices, "ios_share": ios_share})
            cohort.raise_for_status()
            seeded = cohort.json()
            token = _staff_token(http, seeded["staff_hsa_id"])
            gateways.post("/reset").raise_for_status()
            print("  sending one bulk notification ...", flush=True)
            load = os.getloadavg()[0]
            started = time.time()
            created = http.post("/staff/v1/bulk-sends", headers={"authorization": f"Bearer {token}"},
                                json={"subject": "Påminnelse", "body": "Dags för vaccination.", "all_patients": True})
            created.raise_for_status()
            job_id = created.json()["job_id"]
            deadline = time.monotonic() + timeout
            status: dict[str, Any] = {}
            # Watch the drain at the gateways (their own process, no database): the job's status is a count over
            # its deliveries in a transaction that takes SQLite's write lock (every transaction begins IMMEDIATE),
            # so polling it five times a second held the lock the bulk writer and the fan-out need. It is asked
            # only once the gateways have taken every delivery.
            while time.monotonic() < deadline and sum(
                    gateways.get(f"/{gw}/summary").json()["accepted"] for gw in ("apns", "fcm")) < devices:
                time.sleep(0.2)
            while time.monotonic() < deadline:
                status = http.get(f"/staff/v1/bulk-sends/{job_id}",
                                  headers={"authorization": f"Bearer {token}"}).json()
                settled = status["deliveries"]["total"] - status["deliveries"]["queued"]
                if status["state"] != "running" and status["outbox_pending"] == 0 and \
                        status["deliveries"]["total"] >= devices and settled == status["deliveries"]["total"]:
                    break
                time.sleep(0.2)
            else:
                print(f"  not settled after {timeout:.0f} s: {json.dumps(status)}", file=sys.stderr)
            rss.sample()
            peaks = dict(rss.peaks)  # the system's own peak, before the measurement's extraction below
            sent = list(csv.DictReader(io.StringIO(http.get("/_sut/push/timings",
                                                            params={"bulk_job_id": job_id}).text)))
            received: dict[str, float] = {}
            duplicated = replays = 0
            last_receive = started
            for gw in ("apns", "fcm"):
                summary = gateways.get(f"/{gw}/summary").json()
                duplicated += summary["duplicates"]
                replays += summary["replays"]
                last_receive = max(last_receive, summary["last_received_wall"] or started)
                for row in csv.DictReader(io.StringIO(gateways.get(f"/{gw}/timings").text)):
                    if row["outcome"] == "delivered" and row["key"] not in received:
                        received[row["key"]] = float(row["received_wall"])
    latency = [(received[r["key"]] - float(r["enqueued_at"])) * 1000 for r in sent if r["key"] in received]
    outbox = [(received[r["key"]] - float(r["outbox_created_at"])) * 1000 for r in sent if r["key"] in received]
    expected = {r["key"] for r in sent}
    lost = len(expected - received.keys()) + max(0, devices - len(expected))
    seconds = last_receive - started
    return Result(devices=devices, ios=seeded["ios"], android=seeded["android"], deliveries=len(received),
                  seconds_total=round(seconds, 2), deliveries_per_s=round(len(received) / seconds, 1) if seconds else 0,
                  latency_ms=_percentiles(latency), outbox_to_gateway_ms=_percentiles(outbox), lost=lost,
                  duplicated=duplicated, replays=replays,
                  failed=sum(1 for r in sent if r["state"] in {"failed", "pruned"}),
                  messages_written_s=round((datetime.fromisoformat(status["finished_at"])
                                            - datetime.fromisoformat(status["created_at"])).total_seconds(), 2)
                  if status.get("finished_at") else -1, load_before=round(load, 2), database=database_backend(),
                  peak_rss_mb={k: round(v, 1) for k, v in peaks.items()}, load_after=round(os.getloadavg()[0], 2))


def report(result: Result) -> str:
    total_rss = sum(result.peak_rss_mb.values())
    lat, out = result.latency_ms, result.outbox_to_gateway_ms
    lines = [
        f"N = {result.devices:,} devices ({result.ios:,} iOS / APNs, {result.android:,} Android / FCM), "
        f"database {result.database}",
        f"  deliveries accepted     {result.deliveries:,} in {result.seconds_total:.2f} s "
        f"(bulk call to last gateway receipt)",
        f"  throughput              {result.deliveries_per_s:,.0f} deliveries/s "
        f"(target >= {TARGETS['deliveries_per_s']:,})",
        f"  enqueue to gateway      p50 {lat.get('p50', 0):.1f} ms, p95 {lat.get('p95', 0):.1f} ms, "
        f"p99 {lat.get('p99', 0):.1f} ms, max {lat.get('max', 0):.1f} ms (target p99 < {TARGETS['p99_ms']} ms)",
        f"  outbox to gateway       p50 {out.get('p50', 0):.0f} ms, p99 {out.get('p99', 0):.0f} ms "
        f"(includes waiting behind the burst)",
        f"  lost {result.lost}, duplicated {result.duplicated} (replays collapsed by key: {result.replays}), "
        f"failed or pruned {result.failed}",
        f"  bulk job wrote the {result.devices:,} messages in {result.messages_written_s:.1f} s",
        "  peak RSS                " + ", ".join(f"{k} {v:.0f} MB" for k, v in result.peak_rss_mb.items())
        + f"; total {total_rss:.0f} MB (target < {TARGETS['rss_mb']} MB)",
        f"  load average            {result.load_before:.2f} before, {result.load_after:.2f} after "
        f"({os.cpu_count()} cores); HTTP/2 on {result.h2}",
    ]
    if result.ceiling_per_s:
        lines.append(f"  ceiling                 {result.ceiling_per_s:,.0f} pushes/s into the fake gateways from a "
                     f"plain HTTP/2 client ({result.ceiling_pushes:,} pushes, no database; load average "
                     f"{result.ceiling_load:.2f}): the fan-out made {100 * result.ceiling_share:.0f} % of it "
                     f"(goal >= 50 %)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.bench", description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--devices", type=int, nargs="+", default=[10_000, 100_000],
                        help="device counts to run (default: 10000 100000)")
    parser.add_argument("--ios-share", type=float, default=0.5, help="share of iOS devices (default 0.5)")
    parser.add_argument("--push-workers", type=int, default=None, help="sender tasks (default: the system's)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for one run to settle")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    parser.add_argument("--ceiling-pushes", type=int, default=20_000,
                        help="pushes for the ceiling run (at most N; 0: no ceiling); 20,000 reach the steady rate")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="sut-bench-") as folder:
        for n in args.devices:
            print(f"push fan-out benchmark, N = {n:,}", flush=True)
            result = run_once(n, args.ios_share, args.push_workers, args.timeout, Path(folder))
            if args.ceiling_pushes:
                print("  measuring the ceiling ...", flush=True)
                result.ceiling_load = round(os.getloadavg()[0], 2)
                ceiling = bench_ceiling.run(min(n, args.ceiling_pushes))
                result.ceiling_per_s, result.ceiling_pushes = ceiling.per_s, ceiling.pushes
            results.append(result)
            print(report(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"ceiling_share": round(r.ceiling_share, 3)} for r in results],
                                        indent=2) + "\n")
    print(f"(machine: {os.cpu_count()} cores; targets from DESIGN §6)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
