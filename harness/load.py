"""The load layer's library: the SLO policy, exact latency, exactly-once accounting, the SMS saving, and locust
run as a bounded subprocess. Free of pytest and of locust (importing locust monkey-patches the interpreter).

Latency is free of coordinated omission: each request of the open-model load has an intended start time, fixed
before the run by the arrival rate, and every latency counts from it, so a slow system cannot slow the load down
and hide its own slowness. Push latency runs from the intended send to the fake gateway's answer (its receipt
plus the hold of its latency and stall knobs), per delivery, in an HdrHistogram (three significant digits; locust
keeps two).
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import re
import signal
import subprocess  # nosec B404 # locust, the project's own tool, with fixed arguments
import sys
import time
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p99.9", 99.9))
POLICY_VERSION = 1
ROOT = Path(__file__).resolve().parent.parent
LOAD_DIR = ROOT / "load"
PUSH_CHANNELS = ("apns", "fcm")
CHANNELS = ("apns", "fcm", "sms", "email")


# -- exact latency --------------------------------------------------------------------------------------------------
class Latency:
    """Latencies in an HdrHistogram in microseconds (1 us to 1 h, three significant digits)."""

    def __init__(self) -> None:
        self.hist = HdrHistogram(1, 3_600_000_000, 3)

    def record(self, ms: float) -> None:
        self.hist.record_value(max(1, round(ms * 1000)))

    @property
    def count(self) -> int:
        return int(self.hist.get_total_count())

    def summary(self) -> dict[str, float]:
        """p50, p90, p95, p99, p99.9 and max in ms; empty when nothing was recorded (a missing figure)."""
        if not self.count:
            return {}
        values = {name: self.hist.get_value_at_percentile(q) / 1000 for name, q in PERCENTILES}
        return {**{k: round(v, 2) for k, v in values.items()}, "max": round(self.hist.get_max_value() / 1000, 2),
                "count": self.count}

    @classmethod
    def of(cls, values_ms: Iterable[float]) -> Latency:
        latency = cls()
        for value in values_ms:
            latency.record(value)
        return latency


# -- the SLO policy -------------------------------------------------------------------------------------------------
class SloError(ValueError):
    """A broken policy file: the message names the file and the line."""


@dataclass(frozen=True)
class Slo:
    name: str
    metric: str
    requirements: tuple[str, ...]
    description: str
    max: float | None = None
    min: float | None = None
    scenarios: tuple[str, ...] = ()  # empty: every scenario that reports the metric's prefix
    line: int = 0


@dataclass(frozen=True)
class Policy:
    path: Path
    version: int
    warmup_s: float
    slos: tuple[Slo, ...]
    sms: dict[str, float] = field(default_factory=dict)

    def for_scenario(self, scenario: str) -> list[Slo]:
        return [s for s in self.slos if not s.scenarios or scenario in s.scenarios]


VERSION_LINE, WARMUP_LINE, SMS_LINE = r"version\s*=", r"warmup_s\s*=", r"\[sms_saving\]"


def _line_of(text: str, pattern: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(pattern, line.strip()):
            return number
    return 1


def load_policy(path: Path) -> Policy:
    """Read and check ``load/slo.toml``; every problem is an SloError naming the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SloError(f"{path}: cannot read the SLO policy: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{path}:{found.group(1)}" if found else f"{path}"
        raise SloError(f"{where}: not valid TOML: {re.sub(r' [(]at line.*', '', str(exc))}") from exc
    if data.get("version") != POLICY_VERSION:
        raise SloError(f"{path}:{_line_of(text, VERSION_LINE)}: version must be {POLICY_VERSION}, "
                       f"found {data.get('version')!r}")
    warmup = data.get("warmup_s")
    if not isinstance(warmup, int | float) or isinstance(warmup, bool) or warmup < 0:
        raise SloError(f"{path}:{_line_of(text, WARMUP_LINE)}: warmup_s must be a number of seconds >= 0")
    table = data.get("slo")
    if not isinstance(table, dict) or not table:
        raise SloError(f"{path}:1: no [slo.<name>] tables: a policy without SLOs would pass anything")
    slos = []
    for name, entry in table.items():
        line = _line_of(text, rf"\[slo\.{re.escape(name)}\]")
        slos.append(_slo(path, line, name, entry))
    sms = data.get("sms_saving", {})
    for key in ("price_sek", "notifications_per_year"):
        if not isinstance(sms.get(key), int | float) or sms[key] <= 0:
            raise SloError(f"{path}:{_line_of(text, SMS_LINE)}: [sms_saving] needs {key} > 0")
    return Policy(path, POLICY_VERSION, float(warmup), tuple(slos), dict(sms))


def _slo(path: Path, line: int, name: str, entry: Any) -> Slo:
    where = f"{path}:{line}: [slo.{name}]"
    if not isinstance(entry, dict):
        raise SloError(f"{where}: must be a table")
    unknown = set(entry) - {"metric", "max", "min", "requirements", "description", "scenarios"}
    if unknown:
        raise SloError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    metric = entry.get("metric")
    if not isinstance(metric, str) or metric not in METRICS:
        raise SloError(f"{where}: metric must be one of {', '.join(sorted(METRICS))}, found {metric!r}")
    bounds = {k: entry[k] for k in ("max", "min") if k in entry}
    if len(bounds) != 1 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bounds.values()):
        raise SloError(f"{where}: exactly one numeric bound, max or min")
    reqs = entry.get("requirements")
    if not isinstance(reqs, list) or not reqs or not all(isinstance(r, str) and r for r in reqs):
        raise SloError(f"{where}: requirements must be a non-empty list of requirement IDs")
    scenarios = entry.get("scenarios", [])
    if not isinstance(scenarios, list) or not set(scenarios) <= set(SCENARIOS):
        raise SloError(f"{where}: scenarios must be a list of {', '.join(SCENARIOS)}")
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip():
        raise SloError(f"{where}: a description says what the SLO promises")
    return Slo(name, metric, tuple(reqs), description.strip(), bounds.get("max"), bounds.get("min"),
               tuple(scenarios), line)


SCENARIOS = ("staff", "mobile", "bulk", "faults")
METRICS = {
    "api.p95_ms": "API p95 from the intended start (ms)",
    "api.failure_pct": "API requests failed (%)",
    "push.p95_ms": "intended send to gateway answer, p95 (ms)",
    "push.p99_ms": "intended send to gateway answer, p99 (ms)",
    "push.lost": "notifications expected and never accepted",
    "push.duplicated": "notifications shown twice on a device",
    "push.sent_after_pruning": "requests to a token after its 410/UNREGISTERED",
    "push.retry_after_undercut": "retries sooner than the gateway's retry-after",
    "push.retry_overhead_pct": "extra requests from retries (%)",
    "load.achieved_rate_pct": "achieved arrival rate, share of the target (%)",
    "bulk.scaling_pct": "deliveries/s at the larger audience, share of the smaller's (%)",
}


@dataclass(frozen=True)
class Verdict:
    slo: Slo
    value: float | None

    @property
    def passed(self) -> bool:
        if self.value is None or math.isnan(self.value):
            return False  # fail closed: a missing figure fails
        if self.slo.max is not None:
            return self.value <= self.slo.max
        return self.slo.min is not None and self.value >= self.slo.min

    def line(self) -> str:
        bound = f"<= {self.slo.max:g}" if self.slo.max is not None else f">= {self.slo.min:g}"
        value = "missing" if self.value is None else f"{self.value:g}"
        state = "ok" if self.passed else "FAILED"
        return (f"{state:6} {self.slo.name}: {self.slo.metric} = {value} (SLO {bound}; "
                f"{', '.join(self.slo.requirements)}) {self.slo.description}")


def judge(policy: Policy, scenario: str, figures: Mapping[str, float | None]) -> list[Verdict]:
    return [Verdict(slo, figures.get(slo.metric)) for slo in policy.for_scenario(scenario)]


def failures(verdicts: Sequence[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if not v.passed]


# -- exactly-once accounting from the gateways' records -------------------------------------------------------------
@dataclass
class Send:
    """One request of the load as the load generator saw it (a row of its sends CSV)."""

    name: str
    intended: float
    started: float
    ended: float
    status: int
    ok: bool
    message_id: str = ""
    patient: str = ""


def read_sends(folder: Path) -> list[Send]:
    sends = []
    for path in sorted(folder.glob("sends-*.csv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                sends.append(Send(row["name"], float(row["intended"]), float(row["started"]), float(row["ended"]),
                                  int(row["status"]), row["ok"] == "1", row["message_id"], row["patient"]))
    return sorted(sends, key=lambda s: s.intended)


@dataclass
class Record:
    """One request a fake gateway received."""

    channel: str
    token: str
    key: str
    ref: str
    message_id: str
    status: int
    reason: str
    outcome: str
    received: float
    answered: float
    retry_after: float = 0.0
    abandoned: bool = False  # the sender gave up (reset the stream) before this answer went out: it never saw it


def parse_records(channel: str, text: str, retry_after: float = 0.0) -> list[Record]:
    return [Record(channel, r["token"], r["key"], r["ref"], r["message_id"], int(r["status"]), r["reason"],
                   r["outcome"], float(r["received_wall"]), float(r["answered_wall"]), retry_after,
                   r.get("abandoned") == "1")
            for r in csv.DictReader(text.splitlines())]


@dataclass
class Accounting:
    """Per channel: expected, delivered, lost, duplicated, sent after pruning; and the retry figures."""

    per_channel: dict[str, dict[str, int]]
    retry_after_undercut: int
    requests: int
    attempted: int  # distinct (token, idempotency key): each first request; the rest are retries
    latencies_ms: list[tuple[float, float]]  # (intended wall, ms to the gateway's answer), push only
    push_notifications: int = 0  # messages that reached at least one device by push (one SMS fewer each)

    def total(self, what: str) -> int:
        return sum(c[what] for c in self.per_channel.values())

    @property
    def retry_overhead_pct(self) -> float:
        return 100.0 * (self.requests - self.attempted) / self.attempted if self.attempted else math.nan

    def table(self) -> str:
        head = f"{'channel':8} {'expected':>9} {'delivered':>9} {'lost':>5} {'dup':>5} {'pruned':>6} {'after':>6}"
        rows = [head] + [f"{ch:8} {c['expected']:>9} {c['delivered']:>9} {c['lost']:>5} {c['duplicated']:>5} "
                         f"{c['pruned']:>6} {c['sent_after_pruning']:>6}" for ch, c in self.per_channel.items()]
        return "\n".join(rows) + (f"\nrequests {self.requests}, first attempts {self.attempted}, retry "
                                  f"overhead {self.retry_overhead_pct:.2f} %, retry-after undercut "
                                  f"{self.retry_after_undercut}")


def account(sends: Sequence[Send], addresses: Mapping[str, Sequence[tuple[str, str]]],
            records: Sequence[Record], *, since: float = 0.0) -> Accounting:
    """Exactly-once accounting of sent messages against what the gateways received.

    ``addresses`` maps a patient to their (channel, token or phone) pairs. A message sent to a patient is expected
    once at each; a token the gateway answered 410/UNREGISTERED is pruned: a message it never accepted is then
    dropped, not lost, and any later request to it is a send after pruning. A second key for one notification on
    one device is a duplicate (the gateway's own verdict); a repeated key is a replay, collapsed, not shown twice.
    Latency counts only messages intended at or after ``since`` (the warm-up is excluded).
    """
    by_token: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.received):
        by_token[(record.channel, record.token)].append(record)
    pruned_at = {key: next((r.received for r in rs if r.status in (404, 410) and r.reason in
                            ("Unregistered", "UNREGISTERED")), None) for key, rs in by_token.items()}
    per_channel = {ch: Counter({k: 0 for k in ("expected", "delivered", "lost", "duplicated", "pruned",
                                               "sent_after_pruning")}) for ch in CHANNELS}
    latencies: list[tuple[float, float]] = []
    by_push: set[str] = set()
    sent_to: dict[tuple[str, str], list[Send]] = defaultdict(list)
    for send in sends:
        if send.ok and send.message_id:
            for channel, token in addresses.get(send.patient, ()):
                sent_to[(channel, token)].append(send)
    for (channel, token), messages in sent_to.items():
        counts = per_channel[channel]
        rs = by_token.get((channel, token), [])
        pruned = pruned_at.get((channel, token))
        counts["pruned"] += pruned is not None
        counts["duplicated"] += sum(r.outcome == "duplicate" for r in rs)
        counts["sent_after_pruning"] += sum(1 for r in rs if pruned is not None and r.received > pruned)
        if channel in PUSH_CHANNELS:
            accepted = {r.message_id: r for r in reversed(rs) if r.outcome == "delivered"}  # the first acceptance
            for send in messages:
                counts["expected"] += 1
                first = accepted.get(send.message_id)
                if first is not None:
                    counts["delivered"] += 1
                    by_push.add(send.message_id)
                    if send.intended >= since:
                        latencies.append((send.intended, (first.answered - send.intended) * 1000))
                elif pruned is None:
                    counts["lost"] += 1
        else:  # SMS and e-mail carry no message id: count by number, one acceptance per distinct reference
            delivered = len({r.ref for r in rs if r.outcome == "delivered"})
            counts["expected"] += len(messages)
            counts["delivered"] += delivered
            counts["lost"] += max(0, len(messages) - delivered)
    # retry-after binds the retry of the throttled notification (same token, same idempotency key); another
    # notification to the same device may come sooner. It counts from the answer, when the sender learnt of it (a
    # gateway slow to answer would otherwise charge its own delay to the sender), and binds only an answer the
    # sender got: one held past the sender's timeout went to a stream the sender had already given up.
    by_key: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
    for (channel, token), rs in by_token.items():
        for record in rs:
            if record.key:
                by_key[(channel, token, record.key)].append(record)
    undercut = 0
    for rs in by_key.values():
        for earlier, later in itertools.pairwise(rs):
            if earlier.status == 429 and earlier.retry_after and not earlier.abandoned and \
                    later.received - earlier.answered < earlier.retry_after:
                undercut += 1
    relevant = [r for key, rs in by_token.items() if key in sent_to for r in rs]
    attempted = len({(r.channel, r.token, r.key or f"seq{i}") for i, r in enumerate(relevant)})
    return Accounting({ch: dict(c) for ch, c in per_channel.items() if c["expected"] or ch in PUSH_CHANNELS},
                      undercut, len(relevant), attempted, sorted(latencies), len(by_push))


# -- figures of a run -----------------------------------------------------------------------------------------------
@dataclass
class RunFigures:
    scenario: str
    target_rate: float
    window: tuple[float, float]  # the measured window: warm-up excluded, wall clock
    api: dict[str, float]
    api_failure_pct: float
    achieved_rate: float
    push: dict[str, float] = field(default_factory=dict)
    accounting: Accounting | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def figures(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {
            "api.p95_ms": self.api.get("p95"),
            "api.failure_pct": self.api_failure_pct if self.api else None,
            "load.achieved_rate_pct": 100.0 * self.achieved_rate / self.target_rate if self.target_rate else None,
            "push.p95_ms": self.push.get("p95"),
            "push.p99_ms": self.push.get("p99"),
        }
        if self.accounting is not None:
            acc = self.accounting
            out |= {"push.lost": acc.total("lost"), "push.duplicated": acc.total("duplicated"),
                    "push.sent_after_pruning": acc.total("sent_after_pruning"),
                    "push.retry_after_undercut": acc.retry_after_undercut,
                    "push.retry_overhead_pct": acc.retry_overhead_pct}
        return out | self.extra


def api_figures(sends: Sequence[Send], window: tuple[float, float]) -> tuple[dict[str, float], float, float]:
    """API latency from the intended start (percentiles), the failure share (%) and the achieved rate (/s) of
    the requests intended inside the window."""
    inside = [s for s in sends if window[0] <= s.intended < window[1]]
    latency = Latency.of((s.ended - s.intended) * 1000 for s in inside)
    failed = sum(not s.ok for s in inside)
    started = [s for s in sends if window[0] <= s.started < window[1]]
    seconds = window[1] - window[0]
    return (latency.summary(), 100.0 * failed / len(inside) if inside else math.nan,
            len(started) / seconds if seconds > 0 else 0.0)


def percentile_table(rows: Mapping[str, Mapping[str, float]]) -> str:
    names = [name for name, _ in PERCENTILES] + ["max"]
    lines = [f"{'(ms)':34}" + "".join(f"{n:>10}" for n in names) + f"{'count':>9}"]
    for label, values in rows.items():
        if values:
            lines.append(f"{label:34}" + "".join(f"{values.get(n, math.nan):>10.1f}" for n in names)
                         + f"{int(values.get('count', 0)):>9}")
        else:
            lines.append(f"{label:34}   (no figures)")
    return "\n".join(lines)


def sms_saving(policy: Policy, accounting: Accounting) -> dict[str, float]:
    """What moving notifications from SMS to push saves a year, from the delivered channel mix: today every
    notification is an SMS (``notifications_per_year`` at ``price_sek``); with the app, those that reach a device
    by push (a message counted once however many devices took it) need none."""
    push = accounting.push_notifications
    sms = accounting.per_channel.get("sms", {}).get("delivered", 0)
    price, volume = policy.sms["price_sek"], policy.sms["notifications_per_year"]
    share = push / (push + sms) if push + sms else 0.0
    return {"push_notifications": push, "sms_delivered": sms, "push_share_pct": round(100 * share, 2),
            "price_sek": price, "sms_cost_today_sek": round(volume * price),
            "saving_sek_per_year": round(volume * price * share)}


# -- locust as a bounded subprocess ---------------------------------------------------------------------------------
class LocustError(RuntimeError):
    pass


@dataclass
class LocustRun:
    """What one locust run left: its folder, return code, output, and locust's own CPU and memory."""

    folder: Path
    returncode: int
    output: str
    cpu_s: float
    peak_rss_mb: float
    wall_s: float

    @property
    def html(self) -> Path:
        return self.folder / "locust.html"

    def csvs(self) -> list[Path]:
        return sorted(self.folder.glob("locust_*.csv"))


def locust_command(locustfile: Path, host: str, folder: Path, *, users: int, run_time_s: int,
                   workers: int = 0, user_classes: Sequence[str] = ()) -> list[str]:
    """The command line of a headless run: HTML and CSV reports in ``folder``; with workers, the master binds
    to 127.0.0.1 only and ``--processes`` forks the workers on this machine."""
    if not host.startswith(("http://127.0.0.1", "https://127.0.0.1")):
        raise LocustError(f"load goes to 127.0.0.1 only, not {host}")
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", host,
               "-u", str(users), "-r", str(users), "--run-time", f"{run_time_s}s", "--stop-timeout", "5",
               "--html", str(folder / "locust.html"), "--csv", str(folder / "locust"), "--csv-full-history",
               "--only-summary", "--exit-code-on-error", "0", "--loglevel", "WARNING"]
    if workers:
        command += ["--processes", str(workers), "--master-bind-host", "127.0.0.1"]
    return [*command, *user_classes]


def run_locust(command: Sequence[str], folder: Path, *, env: Mapping[str, str], timeout_s: float,
               processes: int = 1) -> LocustRun:
    """Run locust in a process group of its own. It stops by itself: when each of its ``processes`` has left
    a ``done-*`` file (its dispatcher finished) and its stats CSV has caught up, it gets SIGINT, as Ctrl+C, and
    writes its reports; else at its --run-time. It is killed (the whole group) when it outlives ``timeout_s`` or
    when the caller fails, so nothing is left behind."""
    import psutil

    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "locust.log"
    started = time.monotonic()
    peak = 0.0
    cpu: dict[int, float] = {}
    for old in folder.glob("done-*"):
        old.unlink()
    interrupted = False
    with log.open("w") as out:
        proc = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT,  # noqa: S603 # nosec B603 # fixed argv
                                env={**os.environ, **env}, start_new_session=True, cwd=ROOT)
        try:
            root = psutil.Process(proc.pid)
            while proc.poll() is None:
                if time.monotonic() - started > timeout_s:
                    raise LocustError(f"locust ran longer than {timeout_s:.0f} s; stopped")
                rss = 0.0
                try:
                    for p in [root, *root.children(recursive=True)]:
                        with_times = p.cpu_times()
                        cpu[p.pid] = with_times.user + with_times.system
                        rss += p.memory_info().rss / 2**20
                except psutil.Error:
                    pass
                peak = max(peak, rss)
                done = list(folder.glob("done-*"))
                if not interrupted and len(done) >= processes and _stats_final(folder, done, processes):
                    proc.send_signal(signal.SIGINT)
                    interrupted = True
                time.sleep(0.25)
        finally:
            _stop_group(proc)
    return LocustRun(folder, proc.returncode, log.read_text(errors="replace"), round(sum(cpu.values()), 2),
                     round(peak, 1), round(time.monotonic() - started, 1))


WORKER_REPORT_S = 3.0  # locust's workers send their stats to the master every 3 s
STATS_WAIT_S = 5.0  # the most that is waited for that after the dispatchers are done


def _stats_final(folder: Path, done: list[Path], processes: int) -> bool:
    """Whether locust's stats CSV (rewritten every second) was written after the last dispatcher finished (with
    workers: after their next stats report), so it holds every request as the HTML report does; stopped sooner, the
    CSV would miss the last second. Waited for at most STATS_WAIT_S."""
    last = max(path.stat().st_mtime for path in done) + (WORKER_REPORT_S if processes > 1 else 0.0)
    stats = folder / "locust_stats.csv"
    return (stats.exists() and stats.stat().st_mtime > last) or time.time() > last + STATS_WAIT_S


def _stop_group(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the workers too, should one have outlived the master
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(5)
