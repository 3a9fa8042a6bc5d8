"""Target environments as data (targets/*.toml): the embedded reference system or a real environment.

A target file names its URLs, whether it is sensitive (then destructive tests are skipped unless allowed), its
test persons and staff, and the environment variables that hold its credentials. Secrets never live in the
file: a value written as ``{ env = "NAME" }`` is read from the environment, and a missing variable is an error
that names it. A broken file is an error that names the file, the key and the line.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGETS_DIR = ROOT / "targets"
DEFAULT_TARGET = "local"
ENV_VAR = "HARNESS_TARGET"

KINDS = ("embedded", "remote")
URL_KEYS = ("base", "web", "login", "idp", "mobile_api", "mobile_openapi", "staff_api", "staff_openapi", "control")
REMOTE_REQUIRED_URLS = ("base", "idp", "mobile_api", "mobile_openapi", "staff_api", "staff_openapi")
PERSON_ROLES = ("adult", "adult-not-joined", "guardian", "deceased", "samordningsnummer", "protected-identity")
CHILD_GROUPS = ("under-13", "13-17")

TOP_KEYS = {
    "name": str, "description": str, "kind": str, "sensitive": bool, "urls": dict, "embedded": dict,
    "credentials": dict, "persons": dict, "staff": dict, "user_agent": str, "a11y": dict,
}
EMBEDDED_KEYS = {"test_mode": bool, "faults": list, "start_timeout": (int, float), "joined_regions": int}


# What the accessibility layer audits (the [a11y] table): states and the browser steps of the target's own pages.
A11Y_KEYS = {"states": list, "login": list, "skip": str}
STATE_KEYS = {"name": str, "person": str, "entries": list, "crawl": bool, "steps": list}
# A step is one action: its key names the action and holds its URL, selector or URL pattern; some take a value.
STEP_ACTIONS = {"goto": (), "fill": ("value",), "click": (), "check": (), "press": ("key",), "wait_for": (),
                "wait_for_url": ()}
PLACEHOLDERS = frozenset({"web", "login", "personnummer"})


class TargetError(ValueError):
    """A target file that cannot be used; the message names the file, the key and the line."""


class MissingCredentialError(TargetError):
    """A credential the target file names by environment variable is not set."""


@dataclass(frozen=True)
class SecretRef:
    """A value read from an environment variable at run time, never stored in the target file."""

    env: str
    key: str

    def resolve(self, environ: dict[str, str], target: Target) -> str:
        value = environ.get(self.env, "")
        if not value:
            raise MissingCredentialError(
                f"target {target.name!r} ({target.display_path}): {self.key} needs the environment variable "
                f"{self.env}, which is not set")
        return value


@dataclass(frozen=True)
class PersonSpec:
    role: str
    personnummer: str | SecretRef
    id: str | None = None
    children: tuple[PersonSpec, ...] = ()
    age_group: str | None = None  # children only: under-13 or 13-17


@dataclass(frozen=True)
class StaffSpec:
    name: str
    hsa_id: str | SecretRef
    care_unit: str | None = None


@dataclass(frozen=True)
class Step:
    """One browser action of a target's pages: ``goto`` a URL or path, ``fill`` a selector with ``value``,
    ``click``/``check``/``wait_for`` a selector, ``press`` ``key`` in a selector, ``wait_for_url`` a glob.
    ``{web}``, ``{login}`` and ``{personnummer}`` are filled in at run time; a path is relative to urls.web."""

    action: str
    target: str
    value: str | None = None
    line: int | None = None

    def describe(self) -> str:
        """The step as a reader sees it; the value is never shown (it may be a personnummer)."""
        return f"{self.action} {self.target}" + (" <value>" if self.value is not None else "")


@dataclass(frozen=True)
class AuditState:
    """Who is logged in (a role of [persons], or nobody), the steps after logging in (e.g. choosing to act for a
    child), where the audit starts, and whether its pages are found by following links from there."""

    name: str
    person: str | None
    entries: tuple[str, ...]
    crawl: bool = True
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class AuditPlan:
    """The [a11y] table: the states to audit and the steps of the login page (none: the reference system's own
    login page, which the harness knows)."""

    states: tuple[AuditState, ...] = ()
    login: tuple[Step, ...] = ()
    skip: str | None = None  # a regular expression of paths the crawl never follows (log-out links)


@dataclass(frozen=True)
class Target:
    name: str
    path: Path
    kind: str
    sensitive: bool = False
    description: str = ""
    urls: dict[str, str] = field(default_factory=dict)
    embedded: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, SecretRef | str] = field(default_factory=dict)
    persons: dict[str, PersonSpec] = field(default_factory=dict)
    staff: dict[str, StaffSpec] = field(default_factory=dict)
    user_agent: str = "1177-appen/3.2.0 (ios)"
    a11y: AuditPlan = field(default_factory=AuditPlan)

    @property
    def is_embedded(self) -> bool:
        return self.kind == "embedded"

    @property
    def display_path(self) -> str:
        try:
            return str(self.path.relative_to(ROOT))
        except ValueError:
            return self.path.name

    def secret_refs(self) -> list[SecretRef]:
        refs = [v for v in self.credentials.values() if isinstance(v, SecretRef)]
        for person in self.persons.values():
            for p in (person, *person.children):
                if isinstance(p.personnummer, SecretRef):
                    refs.append(p.personnummer)
        refs += [s.hsa_id for s in self.staff.values() if isinstance(s.hsa_id, SecretRef)]
        return refs

    def check_credentials(self, environ: dict[str, str] | None = None) -> None:
        """Fail fast, naming the first missing environment variable."""
        env = dict(os.environ if environ is None else environ)
        for ref in self.secret_refs():
            ref.resolve(env, self)

    def resolve(self, value: str | SecretRef, environ: dict[str, str] | None = None) -> str:
        if isinstance(value, SecretRef):
            return value.resolve(dict(os.environ if environ is None else environ), self)
        return value

    def describe(self) -> str:
        kind = "embedded reference system, started on free ports" if self.is_embedded else "remote environment"
        flags = ", sensitive" if self.sensitive else ""
        return f"{self.name} ({kind}{flags}; {self.display_path})"


# --- locating keys in the file, so errors can name the line -------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_.\"'-]+?)\s*=")


def _split_key(key: str) -> list[str]:
    return [part.strip().strip("\"'") for part in key.split(".")]


def key_line(text: str, path: tuple[str, ...]) -> int | None:
    """The 1-based line where the dotted key ``path`` is set or its table starts; None when not found."""
    table: list[str] = []
    best: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_key(header.group(1))
            if tuple(table) == path and best is None:
                best = number
            continue
        assign = _ASSIGN.match(line)
        if assign:
            full = (*table, *_split_key(assign.group(1)))
            if full == path:
                return number
            if best is None and len(full) < len(path) and tuple(path[: len(full)]) == full:
                best = number  # an inline table holds the key
    return best


class _Loader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        try:
            self.display = str(path.relative_to(ROOT))
        except ValueError:
            self.display = str(path)

    def where(self, key: tuple[str, ...], line: int | None = None, name: str | None = None) -> str:
        """``file, line N: key 'a.b'``: the place an error names."""
        line = line or key_line(self.text, key)
        return f"{self.display}{f', line {line}' if line else ''}: key {name or '.'.join(key)!r}"

    def error(self, key: tuple[str, ...], message: str) -> TargetError:
        return TargetError(f"{self.where(key)}: {message}")

    def check_type(self, key: tuple[str, ...], value: Any, expected: Any) -> None:
        if expected is str and isinstance(value, dict) and set(value) == {"env"}:
            return
        if isinstance(value, bool) and expected in (int, float, (int, float)):
            raise self.error(key, f"expected {_type_name(expected)}, got {_type_name(type(value))}")
        if not isinstance(value, expected):
            raise self.error(key, f"expected {_type_name(expected)}, got {_type_name(type(value))}")

    def secret_or_str(self, key: tuple[str, ...], value: Any) -> str | SecretRef:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str) and value["env"]:
            return SecretRef(env=value["env"], key=".".join(key))
        raise self.error(key, 'expected a string or { env = "VARIABLE" }')

    def unknown(self, key: tuple[str, ...], value: dict, allowed: Any) -> None:
        for name in value:
            if name not in allowed:
                raise self.error((*key, name), f"unknown key; known keys: {', '.join(sorted(allowed))}")


def _type_name(t: Any) -> str:
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    return {str: "a string", bool: "true or false", int: "an integer", float: "a number", dict: "a table",
            list: "an array"}.get(t, getattr(t, "__name__", str(t)))


def _syntax_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> TargetError:
    message = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    display = _Loader(path, text).display
    if not match:
        return TargetError(f"{display}: not valid TOML: {message}")
    line = int(match.group(1))
    source = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    key = source.split("=", 1)[0].strip() if "=" in source else source.strip()
    reason = message[: match.start()].strip()
    return TargetError(f"{display}, line {line}: key {key!r}: not valid TOML: {reason}")


def load_target(path: Path) -> Target:
    """Read and check one target file; every problem is a TargetError naming file, key and line."""
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, text, exc) from None
    ld = _Loader(path, text)
    ld.unknown((), data, TOP_KEYS)
    for key, expected in TOP_KEYS.items():
        if key in data:
            ld.check_type((key,), data[key], expected)
    name = data.get("name", path.name.removesuffix(".toml").removesuffix(".example"))
    if "kind" not in data:
        raise TargetError(f"{ld.display}: key 'kind': missing; expected one of {', '.join(KINDS)}")
    kind = data["kind"]
    if kind not in KINDS:
        raise ld.error(("kind",), f"expected one of {', '.join(KINDS)}, got {kind!r}")

    urls = data.get("urls", {})
    ld.unknown(("urls",), urls, URL_KEYS)
    for key, value in urls.items():
        ld.check_type(("urls", key), value, str)
        if not re.match(r"^https?://[^\s/]+", value):
            raise ld.error(("urls", key), f"not an http(s) URL: {value!r}")
    if kind == "remote":
        for key in REMOTE_REQUIRED_URLS:
            if key not in urls:
                raise TargetError(f"{ld.display}: key 'urls.{key}': missing; a remote target needs "
                                  f"{', '.join('urls.' + k for k in REMOTE_REQUIRED_URLS)}")

    embedded = data.get("embedded", {})
    ld.unknown(("embedded",), embedded, EMBEDDED_KEYS)
    for key, expected in EMBEDDED_KEYS.items():
        if key in embedded:
            ld.check_type(("embedded", key), embedded[key], expected)
    for i, fault in enumerate(embedded.get("faults", [])):
        if not isinstance(fault, str):
            raise ld.error(("embedded", "faults"), f"item {i}: expected a fault name (string)")

    credentials = {}
    for key, value in data.get("credentials", {}).items():
        credentials[key] = ld.secret_or_str(("credentials", key), value)

    persons: dict[str, PersonSpec] = {}
    for role, spec in data.get("persons", {}).items():
        if role not in PERSON_ROLES:
            raise ld.error(("persons", role), f"unknown role; roles: {', '.join(PERSON_ROLES)}")
        persons[role] = _person(ld, ("persons", role), role, spec)

    staff: dict[str, StaffSpec] = {}
    for label, spec in data.get("staff", {}).items():
        key = ("staff", label)
        ld.check_type(key, spec, dict)
        ld.unknown(key, spec, {"hsa_id", "care_unit"})
        if "hsa_id" not in spec:
            raise ld.error(key, "missing 'hsa_id'")
        care_unit = spec.get("care_unit")
        if care_unit is not None:
            ld.check_type((*key, "care_unit"), care_unit, str)
        staff[label] = StaffSpec(name=label, hsa_id=ld.secret_or_str((*key, "hsa_id"), spec["hsa_id"]),
                                 care_unit=care_unit)

    audit = _audit_plan(ld, data.get("a11y", {}), persons if kind == "remote" else None)
    return Target(name=name, path=path, kind=kind, sensitive=data.get("sensitive", kind == "remote"),
                  description=data.get("description", ""), urls=dict(urls), embedded=dict(embedded),
                  credentials=credentials, persons=persons, staff=staff,
                  user_agent=data.get("user_agent", "1177-appen/3.2.0 (ios)"), a11y=audit)


def _item_line(text: str, table: tuple[str, ...], index: int, key: str | None = None) -> int | None:
    """The line of the ``index``-th ``[[table]]`` (or of ``key`` inside it)."""
    seen, inside = -1, False
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            inside = tuple(_split_key(header.group(1))) == table and line.lstrip().startswith("[[")
            seen += inside
            if inside and seen == index and key is None:
                return number
            continue
        assign = _ASSIGN.match(line)
        if inside and seen == index and assign and _split_key(assign.group(1))[0] == key:
            return number
    return None


_INLINE_TABLE = re.compile(r"(?:^|[\[,])\s*\{")  # an inline table's brace, not a placeholder's inside a string


def _step_lines(text: str, first: int | None, count: int) -> list[int | None]:
    """The line of each of an array's ``count`` inline tables, the array starting on line ``first``."""
    if first is None:
        return [None] * count
    lines: list[int | None] = []
    for number, line in enumerate(text.splitlines()[first - 1:], start=first):
        lines += [number] * len(_INLINE_TABLE.findall(line))
        if len(lines) >= count:
            break
    return (lines + [first] * count)[:count]


def _audit_plan(ld: _Loader, table: Any, remote_persons: dict[str, PersonSpec] | None) -> AuditPlan:
    """The [a11y] table; ``remote_persons`` (a remote target's [persons]) is what its states may log in as."""
    ld.check_type(("a11y",), table, dict)
    ld.unknown(("a11y",), table, A11Y_KEYS)
    for key, expected in A11Y_KEYS.items():
        if key in table:
            ld.check_type(("a11y", key), table[key], expected)
    skip = table.get("skip")
    if skip is not None:
        try:
            re.compile(skip)
        except re.error as exc:
            raise ld.error(("a11y", "skip"), f"not a regular expression: {exc}") from None
    login_line = key_line(ld.text, ("a11y", "login"))
    login = tuple(_step(ld, "a11y.login", i, item, at)
                  for (i, item), at in zip(enumerate(table.get("login", [])),
                                           _step_lines(ld.text, login_line, len(table.get("login", []))),
                                           strict=True))
    states: list[AuditState] = []
    for i, item in enumerate(table.get("states", [])):
        line = _item_line(ld.text, ("a11y", "states"), i)

        def fail(key: str | None, message: str, *, index: int = i, at: int | None = line) -> TargetError:
            where = (_item_line(ld.text, ("a11y", "states"), index, key) if key else None) or at
            name = f"a11y.states[{index}]" + (f".{key}" if key else "")
            return TargetError(f"{ld.where((), where, name)}: {message}")

        if not isinstance(item, dict):
            raise fail(None, "expected a table ([[a11y.states]])")
        for key in item:
            if key not in STATE_KEYS:
                raise fail(key, f"unknown key; known keys: {', '.join(sorted(STATE_KEYS))}")
        for key, expected in STATE_KEYS.items():
            if key in item and not isinstance(item[key], expected):
                raise fail(key, f"expected {_type_name(expected)}, got {_type_name(type(item[key]))}")
        name = item.get("name", "")
        if not re.fullmatch(r"[a-zåäö0-9-]+", name):
            raise fail("name", "expected a short name of lower-case letters, digits and '-'")
        if name in {s.name for s in states}:
            raise fail("name", f"the state {name!r} is named twice")
        person = item.get("person")
        if person is not None and person not in PERSON_ROLES:
            raise fail("person", f"unknown role {person!r}; roles: {', '.join(PERSON_ROLES)}")
        if person is not None and remote_persons is not None and person not in remote_persons:
            raise fail("person", f"no test person of role {person!r}: add [persons.{person}]")
        if person is not None and remote_persons is not None and not login:
            raise fail("person", "a logged-in state on a remote target needs the login page's steps in a11y.login")
        entries = item.get("entries", [])
        if not entries or not all(isinstance(e, str) and re.match(r"^(/|https?://)", e) for e in entries):
            raise fail("entries", "expected an array of paths (starting with /) or http(s) URLs")
        steps_line = _item_line(ld.text, ("a11y", "states"), i, "steps") or line
        raw_steps = item.get("steps", [])
        steps = tuple(_step(ld, f"a11y.states[{i}].steps", n, step, at)
                      for (n, step), at in zip(enumerate(raw_steps), _step_lines(ld.text, steps_line, len(raw_steps)),
                                               strict=True))
        states.append(AuditState(name=name, person=person, entries=tuple(entries), crawl=item.get("crawl", True),
                                 steps=steps))
    return AuditPlan(states=tuple(states), login=login, skip=skip)


def _step(ld: _Loader, array: str, index: int, item: Any, line: int | None) -> Step:
    """One step ``{ action = "...", value = "..." }`` of the array named ``array``, written on ``line``."""

    def fail(message: str) -> TargetError:
        return TargetError(f"{ld.where((), line, array)}, step {index + 1}: {message}")

    if not isinstance(item, dict):
        raise fail("expected an inline table such as { click = \"button[type=submit]\" }")
    actions = [k for k in item if k in STEP_ACTIONS]
    if len(actions) != 1:
        raise fail(f"expected exactly one action of {', '.join(STEP_ACTIONS)}, got {', '.join(item) or 'none'}")
    action = actions[0]
    allowed = {action, *STEP_ACTIONS[action]}
    extra = sorted(set(item) - allowed)
    if extra:
        raise fail(f"{action} takes {', '.join(sorted(allowed))}; unknown: {', '.join(extra)}")
    for needed in STEP_ACTIONS[action]:
        if needed not in item:
            raise fail(f"{action} needs {needed!r}")
    for k, v in item.items():
        if not isinstance(v, str) or not v:
            raise fail(f"{k}: expected a non-empty string")
        unknown = set(re.findall(r"\{(\w+)\}", v)) - PLACEHOLDERS
        if unknown:
            raise fail(f"{k}: unknown placeholder {{{sorted(unknown)[0]}}}; known: "
                       f"{', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}")
    value = next((item[k] for k in STEP_ACTIONS[action]), None)
    return Step(action=action, target=item[action], value=value, line=line)


def _person(ld: _Loader, key: tuple[str, ...], role: str, spec: Any, *, child: bool = False) -> PersonSpec:
    ld.check_type(key, spec, dict)
    allowed = {"personnummer", "id", "age_group"} if child else {"personnummer", "id", "children"}
    ld.unknown(key, spec, allowed)
    if "personnummer" not in spec:
        raise ld.error(key, "missing 'personnummer'")
    number = ld.secret_or_str((*key, "personnummer"), spec["personnummer"])
    person_id = spec.get("id")
    if person_id is not None:
        ld.check_type((*key, "id"), person_id, str)
    age_group = spec.get("age_group")
    if child and age_group not in CHILD_GROUPS:
        raise ld.error((*key, "age_group"), f"expected one of {', '.join(CHILD_GROUPS)}")
    children: list[PersonSpec] = []
    if not child and "children" in spec:
        ld.check_type((*key, "children"), spec["children"], list)
        for i, item in enumerate(spec["children"]):
            children.append(_person(ld, (*key, "children"), f"child-{i}", item, child=True))
    return PersonSpec(role=role, personnummer=number, id=person_id, children=tuple(children), age_group=age_group)


def available(directory: Path = TARGETS_DIR) -> dict[str, Path]:
    """Target name -> file: ``local.toml`` is 'local', ``staging.example.toml`` is 'staging'."""
    found = {}
    for path in sorted(directory.glob("*.toml")):
        found[path.name.removesuffix(".toml").removesuffix(".example")] = path
    return found


def choose(cli: str | None, environ: dict[str, str] | None = None, ini: str | None = None) -> tuple[str, str]:
    """The target name and where the choice came from: CLI, then environment, then ini, then the default."""
    env = os.environ if environ is None else environ
    if cli:
        return cli, "--target"
    if env.get(ENV_VAR):
        return env[ENV_VAR], ENV_VAR
    if ini:
        return ini, "ini harness_target"
    return DEFAULT_TARGET, "default"


def resolve_target(name_or_path: str, directory: Path = TARGETS_DIR) -> Target:
    """A target by name (a file in targets/) or by path to a TOML file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" and candidate.exists():
        return load_target(candidate.resolve())
    known = available(directory)
    if name_or_path not in known:
        raise TargetError(f"unknown target {name_or_path!r}; known targets: {', '.join(known) or 'none'} "
                          f"(files in {directory.name}/), or give the path of a .toml file")
    return load_target(known[name_or_path])
