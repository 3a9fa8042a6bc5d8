"""The requirement catalogue (requirements/catalogue/*.yaml): business rules and legal requirements by ID.

Tests name what they verify with ``@pytest.mark.req("BR-NOTIF-3", "GDPR-5-1-c")``; every ID must be in the
catalogue. Each entry says where the requirement comes from (source, reference, official link) and whether it
still needs legal review (a section or reading taken from secondary sources). A broken file is an error that
names the file and the line: the files are checked against the JSON Schemas in requirements/schema/
(jsonschema), and each error's path is followed back to its YAML node.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_DIR = ROOT / "requirements" / "catalogue"
ATTESTATIONS = ROOT / "requirements" / "attestations.yaml"
WAIVERS = ROOT / "requirements" / "waivers.yaml"
SCHEMA_DIR = ROOT / "requirements" / "schema"  # JSON Schemas of the catalogue files and the two registers
# Digests of files that passed their schema: importing jsonschema costs seconds of CPU where its format extras are
# installed (rfc3987-syntax builds a parser at import), and every pytest process loads the catalogue. A file whose
# text and schemas are unchanged since it last passed is not validated again; a changed file always is.
VALIDATED_CACHE = Path(os.environ.get("HARNESS_CACHE_DIR", ROOT / ".cache")) / "validated"

ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Za-z0-9]+)+$")
KINDS = ("business-rule", "legal")
VERIFICATION = ("automated", "manual", "hybrid")  # hybrid: a test and a person's attestation together
IMPACTS = ("critical", "high", "medium", "low")  # what a breach costs; the gate policy says which must pass
BUSINESS_RULES_EPIC = "Affärsregler"


class CatalogueError(ValueError):
    """A catalogue file that cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    kind: str
    source: str
    reference: str
    summary: str
    link: str | None = None
    verification: str = "automated"
    layers: tuple[str, ...] = ()
    needs_legal_review: bool = False
    review_note: str | None = None
    review_question: str | None = None
    related: tuple[str, ...] = ()
    law: str | None = None
    impact: str | None = None
    applies_to: tuple[str, ...] = ()  # the parts of the system it binds: app, backend, web, push, idp, staff
    file: str = ""
    line: int = 0

    @property
    def label(self) -> str:
        """'PDL-4-1 Staff access limited to need': the ID as a whole token, then the title."""
        return f"{self.id} {self.title}"

    @property
    def epic(self) -> str:
        """The law a legal requirement comes from; business rules are grouped as "Affärsregler"."""
        return BUSINESS_RULES_EPIC if self.kind == "business-rule" else (self.law or self.source)


@dataclass
class Catalogue:
    requirements: dict[str, Requirement] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def __contains__(self, req_id: object) -> bool:
        return req_id in self.requirements

    def __getitem__(self, req_id: str) -> Requirement:
        return self.requirements[req_id]

    def __len__(self) -> int:
        return len(self.requirements)

    def unknown(self, ids: Iterable[str]) -> list[str]:
        return [i for i in ids if i not in self.requirements]

    def suggest(self, req_id: str) -> str | None:
        """The closest known ID, to help fix a typo."""
        import difflib

        close = difflib.get_close_matches(req_id, list(self.requirements), n=1, cutoff=0.6)
        return close[0] if close else None


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


class _Loader(yaml.SafeLoader):
    """The safe loader, except that a date that does not exist (2027-02-30) stays text for the schema to name."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:  # type: ignore[override]
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _plain(node: yaml.Node) -> Any:
    """A YAML node as Python data (scalars resolved by the safe loader's rules), built from the node tree itself."""
    if node is None:
        return None
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


# libyaml's composer when PyYAML has it (several times faster); its nodes carry the same marks (lines).
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _json_ready(value: Any) -> Any:
    """YAML data as JSON Schema sees it: a date the YAML loader resolved goes back to its ISO text."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _compose(path: Path) -> yaml.Node | None:
    """The file's YAML node tree (every node knows its line); broken YAML is an error naming the line."""
    try:
        return yaml.compose(path.read_text(encoding="utf-8"), Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        # The context (where the broken construct starts) is where to look; the problem mark may be the file end.
        mark = exc.context_mark or exc.problem_mark
        line = f", line {mark.line + 1}" if mark else ""
        found = (f" (noticed at line {exc.problem_mark.line + 1})"
                 if exc.context_mark and exc.problem_mark and exc.problem_mark.line != exc.context_mark.line else "")
        raise CatalogueError(f"{_display(path)}{line}: not valid YAML: {exc.problem or exc}{found}") from None


# --- validation against the JSON Schemas in requirements/schema/ --------------------------------------------------
# The files are validated by the jsonschema library against schemas a reader (or another tool) can use on their own;
# each error's path is followed back through the YAML node tree, so the message still names the file and the line.

def _inline(node: Any, schemas: dict[str, Any], base: str) -> Any:
    """The schema with every ``$ref`` replaced by what it points at (within a file or to a sibling file), so the
    validator follows no references at run time: the catalogue is loaded by every test run, and resolving them
    was most of its cost. A ``$ref`` beside other keywords is merged with them (they do not overlap here)."""
    if isinstance(node, list):
        return [_inline(item, schemas, base) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    rest = {k: _inline(v, schemas, base) for k, v in node.items() if k != "$ref"}
    if not isinstance(ref, str):
        return rest
    file, _, pointer = ref.partition("#")
    file = file or base
    target: Any = schemas[file]
    for part in pointer.strip("/").split("/") if pointer.strip("/") else []:
        target = target[part]
    return {**_inline(target, schemas, file), **rest}


@functools.cache
def _schema_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _marker(kind: str, text: str) -> Path:
    return VALIDATED_CACHE / hashlib.sha256(f"{_schema_digest()}\0{kind}\0{text}".encode()).hexdigest()


def _remember_valid(kind: str, text: str) -> None:
    """Note that this text passed its schema (best effort: a read-only tree just validates every time)."""
    marker = _marker(kind, text)
    with contextlib.suppress(OSError):
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()


@functools.cache
def _validators() -> dict[str, Draft202012Validator]:
    from jsonschema import Draft202012Validator

    schemas = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SCHEMA_DIR.glob("*.schema.json"))}
    catalogue = schemas["catalogue.schema.json"]
    made = {name.removesuffix(".schema.json"): (schema, name) for name, schema in schemas.items()}
    # The file's own shape (its entries are judged one by one, merged with the file's defaults) and one entry.
    made["catalogue"] = ({**catalogue, "properties": {**catalogue["properties"],
                                                      "requirements": {"type": "array", "items": {"type": "object"}}}},
                         "catalogue.schema.json")
    made["requirement"] = (catalogue["$defs"]["requirement"], "catalogue.schema.json")
    made["fields"] = (catalogue["$defs"]["fields"], "catalogue.schema.json")
    return {name: Draft202012Validator(_inline({k: v for k, v in schema.items() if k != "$defs"}, schemas, file),
                                       format_checker=Draft202012Validator.FORMAT_CHECKER)
            for name, (schema, file) in made.items()}


def _child(node: yaml.Node | None, step: str | int) -> tuple[yaml.Node | None, yaml.Node | None]:
    """(key node, value node) of a mapping's key or a sequence's item; (None, None) where there is none."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == step:
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return None, node.value[step]
    return None, None


def _node_at(root: yaml.Node, path: Iterable[str | int]) -> tuple[yaml.Node, yaml.Node | None]:
    """The deepest node of ``path`` in the tree, and the key node that names it (None for a list item)."""
    node, key = root, None
    for step in path:
        found_key, found = _child(node, step)
        if found is None:
            break
        node, key = found, found_key
    return node, key


def _message(error: ValidationError, what: str) -> tuple[str, str | None]:
    """A reader's message for a schema error, and the field it concerns (for the key's line)."""
    field_name = next((p for p in reversed(error.absolute_path) if isinstance(p, str)), None)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        fields = f"; fields: {', '.join(allowed)}" if allowed else ""
        return f"unknown field {extra[0]!r}{fields}", extra[0]
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        name = missing[0] if missing else "?"
        if name == "link" and error.instance.get("kind") == "legal":
            return f"{what}: a legal requirement needs an official 'link'", None
        return (f"{what}: missing field {name!r}" if what else f"missing {', '.join(missing)}"), None
    if error.validator == "enum":
        return f"{field_name or 'value'} must be one of {', '.join(map(str, error.validator_value))}", field_name
    if error.validator == "pattern" and field_name == "id":
        return f"{error.instance!r} is not a requirement ID (like BR-NOTIF-3 or GDPR-5-1-c)", field_name
    if error.validator == "pattern" and str(error.validator_value).startswith("^https://"):
        return f"{field_name} must be an https link", field_name
    if error.validator == "format" or (error.validator == "pattern" and "\\d{4}" in str(error.validator_value)):
        return f"{field_name!r} must be a date (YYYY-MM-DD)", field_name
    if error.validator in ("minLength", "pattern") or (error.validator == "type" and error.validator_value == "string"):
        return f"{field_name!r} must be text", field_name
    if error.validator == "type" and error.validator_value == "object" and error.absolute_path \
            and isinstance(error.absolute_path[-1], int):
        return "each entry must be a mapping", None
    if error.validator == "type":
        expected = {"array": "a list", "object": "a mapping", "boolean": "true or false"}.get(
            str(error.validator_value), str(error.validator_value))
        return f"field {field_name!r}: expected {expected}", field_name
    if error.validator == "minItems":
        return f"{field_name!r} must name at least one", field_name
    if error.validator == "uniqueItems":
        return f"{field_name!r} names an item twice", field_name
    return f"{field_name or 'value'}: {error.message}", field_name


def _schema_errors(validator: str, data: Any, where: Callable[[list[str | int], str | None], yaml.Node],
                   what: Callable[[list[str | int]], str]) -> list[tuple[int, str, list[str | int]]]:
    """Every error of ``data`` against a schema as (line, message, path): unknown fields first (a misspelt key
    is why a field is missing), then by line."""
    found = []
    for error in _validators()[validator].iter_errors(data):
        path = list(error.absolute_path)
        message, field_name = _message(error, what(path))
        node = where(path, field_name)
        found.append((error.validator != "additionalProperties", node.start_mark.line + 1, message, path))
    ordered = sorted(found, key=lambda e: e[:3])
    unique = {(line, message): path for _, line, message, path in ordered}  # format and pattern may say the same
    return [(line, message, path) for (line, message), path in unique.items()]


def _raise_first(display: str, errors: list[tuple[int, str, list[str | int]]]) -> None:
    if errors:
        line, message, _ = errors[0]
        more = f" ({len(errors) - 1} more problem(s) in the file)" if len(errors) > 1 else ""
        raise CatalogueError(f"{display}, line {line}: {message}{more}")


def _locator(root: yaml.Node) -> Callable[[list[str | int], str | None], yaml.Node]:
    """Where in the file a schema error of ``path`` lies: the key of the field it concerns, else its node."""

    def where(path: list[str | int], field_name: str | None) -> yaml.Node:
        node, key = _node_at(root, path)
        if field_name is not None and path[-1:] != [field_name]:
            field_key, _ = _child(node, field_name)  # an unknown field: its own key
            if field_key is not None:
                return field_key
        return key if key is not None and isinstance(node, yaml.ScalarNode) else node

    return where


def load_file(path: Path) -> list[Requirement]:
    display = _display(path)
    root = _compose(path)
    if root is None:
        return []
    data = _json_ready(_plain(root))

    def entry_name(path_: list[str | int]) -> str:
        if len(path_) >= 2 and path_[0] == "requirements" and isinstance(path_[1], int):
            entry = data["requirements"][path_[1]]
            return f"requirement {entry.get('id', '?') if isinstance(entry, dict) else '?'!r}"
        return "the file"

    text = path.read_text(encoding="utf-8")
    checked = _marker("catalogue", text).exists()
    if not checked:
        _raise_first(display, _schema_errors("catalogue", data, _locator(root), entry_name))
    defaults = data.get("defaults") or {}
    defaults_node = _child(root, "defaults")[1]
    items = _child(root, "requirements")[1]
    if not isinstance(items, yaml.SequenceNode):  # a file its schema passed has the list; a stale mark may lie
        raise CatalogueError(f"{display}, line {root.start_mark.line + 1}: 'requirements' must be a list")
    result = []
    for item, raw in zip(items.value, data["requirements"], strict=True):
        values = {**defaults, **raw}

        def where(path_: list[str | int], field_name: str | None, item: yaml.Node = item,
                  raw: dict[str, Any] = raw) -> yaml.Node:
            name = path_[0] if path_ else field_name
            if isinstance(name, str) and name not in raw and defaults_node is not None:
                node, key = _node_at(defaults_node, path_)  # the value came from the file's defaults
                return key if key is not None else node
            return _locator(item)(path_, field_name)

        name = f"requirement {values.get('id', '?')!r}"
        if not checked:
            _raise_first(display, _schema_errors("requirement", values, where, lambda _, name=name: name))
        result.append(Requirement(
            id=values["id"], title=values["title"], kind=values["kind"], source=values["source"],
            reference=values["reference"], summary=values["summary"], link=values.get("link"),
            verification=values.get("verification", "automated"), layers=tuple(values.get("layers", ())),
            needs_legal_review=values.get("needs_legal_review", False), review_note=values.get("review_note"),
            review_question=values.get("review_question"), related=tuple(values.get("related", ())),
            law=values.get("law"), impact=values["impact"], applies_to=tuple(values["applies_to"]),
            file=display, line=item.start_mark.line + 1))
    if not checked:
        _remember_valid("catalogue", text)
    return result


def load_catalogue(directory: Path = CATALOGUE_DIR) -> Catalogue:
    """Every *.yaml in the catalogue folder; an ID defined twice is an error naming both places."""
    catalogue = Catalogue()
    if not directory.is_dir():
        raise CatalogueError(f"{_display(directory)}: the requirement catalogue folder does not exist")
    for path in sorted(directory.glob("*.yaml")):
        catalogue.files.append(path)
        for req in load_file(path):
            if req.id in catalogue.requirements:
                first = catalogue.requirements[req.id]
                raise CatalogueError(f"{req.file}, line {req.line}: {req.id} is already defined in "
                                     f"{first.file}, line {first.line}")
            catalogue.requirements[req.id] = req
    for req in catalogue.requirements.values():
        for other in req.related:
            if other not in catalogue.requirements:
                raise CatalogueError(f"{req.file}, line {req.line}: {req.id} relates to unknown ID {other!r}")
    return catalogue


def review_gaps(catalogue: Catalogue) -> list[str]:
    """Entries flagged for legal review that do not say why, or not what the reviewer must answer.

    Kept out of the loader on purpose: a new flagged entry without its question should fail the project's tests
    with this message, not stop every test run at collection.
    """
    gaps = []
    for req in catalogue.requirements.values():
        if not req.needs_legal_review:
            continue
        for name in ("review_note", "review_question"):
            if not (getattr(req, name) or "").strip():
                gaps.append(f"{req.file}, line {req.line}: {req.id} needs legal review but has no {name!r}")
        if req.review_question and not req.review_question.rstrip().endswith("?"):
            gaps.append(f"{req.file}, line {req.line}: {req.id}: the review_question is not a question")
    return gaps


# --- attestations and waivers ---------------------------------------------------------------------------------------
# An attestation is a person's verdict on a requirement that automation cannot (fully) judge; a waiver is an accepted
# deviation: a requirement known not to be met, released anyway for a stated reason until it expires. Both name who
# made them, who approved them, the evidence, and an expiry; an expired one no longer counts (and fails the gate).
ATTESTATION_RESULTS = ("passed", "failed", "not applicable")


@dataclass(frozen=True)
class Attestation:
    requirement: str
    result: str  # one of ATTESTATION_RESULTS
    who: str
    approver: str
    when: date
    expiry: date
    evidence: str
    reason: str
    file: str = ""
    line: int = 0

    def expired(self, today: date) -> bool:
        return self.expiry < today


@dataclass(frozen=True)
class Waiver:
    requirement: str
    reason: str
    who: str
    approver: str
    when: date
    expiry: date
    evidence: str
    file: str = ""
    line: int = 0

    def expired(self, today: date) -> bool:
        return self.expiry < today


def _load_register(path: Path, key: str, catalogue: Catalogue | None) -> list[tuple[dict[str, Any], int]]:
    """The entries of an attestation or waiver file as (values, line), checked against its schema
    (requirements/schema/); every error names the file and the line."""
    display = _display(path)
    if not path.is_file():
        raise CatalogueError(f"{display}: the file does not exist (an empty register is '{key}: []')")
    root = _compose(path)
    if not isinstance(root, yaml.MappingNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise CatalogueError(f"{display}, line {line}: expected a mapping with only a {key!r} list")
    data = _json_ready(_plain(root))
    text = path.read_text(encoding="utf-8")
    checked = _marker(key, text).exists()
    errors = [] if checked else _schema_errors(key, data, _locator(root), lambda _: "")
    if errors and errors[0][2] == []:  # the file itself: a wrong or missing top-level key
        raise CatalogueError(f"{display}, line {errors[0][0]}: expected a mapping with only a {key!r} list")
    _raise_first(display, errors)
    if not checked:
        _remember_valid(key, text)
    entries = []
    items = _child(root, key)[1]
    if not isinstance(items, yaml.SequenceNode):  # a file its schema passed has the list; a stale mark may lie
        raise CatalogueError(f"{display}, line {root.start_mark.line + 1}: {key!r} must be a list")
    for item, raw in zip(items.value, data[key], strict=True):
        line = item.start_mark.line + 1
        values = {**raw, "when": date.fromisoformat(raw["when"]), "expiry": date.fromisoformat(raw["expiry"])}
        if catalogue is not None and values["requirement"] not in catalogue:
            hint = catalogue.suggest(values["requirement"])
            raise CatalogueError(f"{display}, line {line}: unknown requirement {values['requirement']!r}"
                                 + (f" (did you mean {hint}?)" if hint else ""))
        if values["expiry"] < values["when"]:
            raise CatalogueError(f"{display}, line {line}: expiry is before the date it was made")
        if values["approver"].strip() == values["who"].strip():
            raise CatalogueError(f"{display}, line {line}: the approver must be someone other than who made it")
        entries.append((values, line))
    return entries


def load_attestations(path: Path = ATTESTATIONS, catalogue: Catalogue | None = None) -> list[Attestation]:
    """requirements/attestations.yaml: manual verdicts on requirements (who, approver, when, evidence, expiry)."""
    return [Attestation(**values, file=_display(path), line=line)
            for values, line in _load_register(path, "attestations", catalogue)]


def load_waivers(path: Path = WAIVERS, catalogue: Catalogue | None = None) -> list[Waiver]:
    """requirements/waivers.yaml: accepted deviations (reason, who, approver, when, evidence, expiry)."""
    return [Waiver(**values, file=_display(path), line=line)
            for values, line in _load_register(path, "waivers", catalogue)]


# --- the status of every requirement after a run ---------------------------------------------------------------------
# Five states as in Chef InSpec / MITRE HDF. "not applicable" needs a recorded decision that a requirement does not
# apply to the system; the catalogue records none, so a run never infers it: what nothing verified is "not reviewed".
STATUSES = ("passed", "failed", "error", "not applicable", "not reviewed")
# "inconclusive": the test failed on another of its requirements, so it neither verified nor broke this one.
TEST_OUTCOMES = ("passed", "failed", "error", "inconclusive", "skipped")


@dataclass(frozen=True)
class RequirementStatus:
    requirement: Requirement
    status: str
    reason: str
    tests: tuple[tuple[str, str], ...]  # (test, outcome), sorted by test

    def as_json(self) -> dict[str, Any]:
        req = self.requirement
        data: dict[str, Any] = {
            "id": req.id, "title": req.title, "kind": req.kind, "law": req.epic, "source": req.source,
            "reference": req.reference, "link": req.link, "status": self.status, "reason": self.reason,
            "needs_legal_review": req.needs_legal_review,
            "tests": [{"test": test, "outcome": outcome} for test, outcome in self.tests],
        }
        if req.needs_legal_review:
            data["review_note"] = req.review_note
            data["review_question"] = req.review_question
        return data


def _reason(req: Requirement, status: str, tests: dict[str, str], layers_run: set[str]) -> str:
    counts = {o: sum(1 for v in tests.values() if v == o) for o in TEST_OUTCOMES}
    if status != "not reviewed":
        return ", ".join(f"{n} {o}" for o, n in counts.items() if n) + f" of {len(tests)} test(s)"
    if tests:
        return f"no verdict from its {len(tests)} test(s): " + ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    if req.verification == "manual":
        return "verified by manual attestation, not by a test; no attestation is recorded"
    layers = ", ".join(req.layers) or "no layer named"
    if layers_run & set(req.layers):
        return f"no test verifies it in the layer(s) that ran ({', '.join(sorted(layers_run & set(req.layers)))})"
    return f"its layer(s) ({layers}) did not run"


def requirement_statuses(catalogue: Catalogue, outcomes: dict[str, dict[str, str]],
                         layers_run: Iterable[str] = ()) -> list[RequirementStatus]:
    """Every requirement of the catalogue with its status and the tests behind it, in catalogue order.

    ``outcomes`` maps a requirement ID to {test: passed | failed | error | skipped}. One failed test fails the
    requirement, then one error makes it an error; it passes only when a test passed and none failed.
    """
    ran = set(layers_run)
    result = []
    for req in catalogue.requirements.values():
        tests = dict(outcomes.get(req.id, {}))
        found = set(tests.values())
        status = next((s for s in ("failed", "error", "passed") if s in found), "not reviewed")
        result.append(RequirementStatus(req, status, _reason(req, status, tests, ran), tuple(sorted(tests.items()))))
    return result


def status_counts(statuses: Iterable[RequirementStatus]) -> dict[str, int]:
    """How many requirements are in each of the five states, and how many are flagged for legal review."""
    listed = list(statuses)
    counts = {"total": len(listed), **{s: sum(1 for r in listed if r.status == s) for s in STATUSES}}
    counts["needs legal review"] = sum(1 for r in listed if r.requirement.needs_legal_review)
    return counts


def summary_line(counts: dict[str, int]) -> str:
    """'34 requirements: 21 passed, 0 failed, ...; 4 need legal review' (the terminal and the report agree)."""
    states = ", ".join(f"{counts[s]} {s}" for s in STATUSES)
    return f"{counts['total']} requirements: {states}; {counts['needs legal review']} need legal review"
