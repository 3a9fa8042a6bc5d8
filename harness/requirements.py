"""The requirement catalogue (requirements/catalogue/*.yaml): business rules and legal requirements by ID.

Tests name what they verify with ``@pytest.mark.req("BR-NOTIF-3", "GDPR-5-1-c")``; every ID must be in the
catalogue. Each entry says where the requirement comes from (source, reference, official link) and whether it
still needs legal review (LAW.md marks unverified points with (?)). A broken file is an error that names the file
and the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_DIR = ROOT / "requirements" / "catalogue"
ATTESTATIONS = ROOT / "requirements" / "attestations.yaml"
WAIVERS = ROOT / "requirements" / "waivers.yaml"

ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Za-z0-9]+)+$")
KINDS = ("business-rule", "legal")
VERIFICATION = ("automated", "manual", "hybrid")  # hybrid: a test and a person's attestation together
FIELDS = {
    "id": str, "title": str, "kind": str, "source": str, "reference": str, "link": str, "summary": str,
    "verification": str, "layers": list, "needs_legal_review": bool, "review_note": str, "review_question": str,
    "related": list, "law": str, "impact": str, "applies_to": list,
}
REQUIRED = ("id", "title", "kind", "source", "reference", "summary")
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


def _plain(node: yaml.Node) -> Any:
    """A YAML node as Python data (scalars resolved by the safe loader's rules)."""
    return yaml.safe_load(yaml.serialize(node)) if node is not None else None


def load_file(path: Path) -> list[Requirement]:
    display = _display(path)
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        # The context (where the broken construct starts) is where to look; the problem mark may be the file end.
        mark = exc.context_mark or exc.problem_mark
        line = f", line {mark.line + 1}" if mark else ""
        found = (f" (noticed at line {exc.problem_mark.line + 1})"
                 if exc.context_mark and exc.problem_mark and exc.problem_mark.line != exc.context_mark.line else "")
        raise CatalogueError(f"{display}{line}: not valid YAML: {exc.problem or exc}{found}") from None
    if root is None:
        return []

    def fail(node: yaml.Node, message: str) -> CatalogueError:
        return CatalogueError(f"{display}, line {node.start_mark.line + 1}: {message}")

    if not isinstance(root, yaml.MappingNode):
        raise fail(root, "expected a mapping with a 'requirements' list")
    top = {k.value: v for k, v in root.value}
    for key_node, _ in root.value:
        if key_node.value not in ("requirements", "defaults"):
            raise fail(key_node, f"unknown top-level key {key_node.value!r}; expected 'requirements' (and "
                                 "optionally 'defaults')")
    defaults: dict[str, Any] = {}
    if "defaults" in top:
        defaults = _plain(top["defaults"]) or {}
        if not isinstance(defaults, dict):
            raise fail(top["defaults"], "'defaults' must be a mapping")
    items = top.get("requirements")
    if not isinstance(items, yaml.SequenceNode):
        raise fail(items or root, "'requirements' must be a list")
    result = []
    for item in items.value:
        if not isinstance(item, yaml.MappingNode):
            raise fail(item, "each requirement must be a mapping")
        nodes = {k.value: (k, v) for k, v in item.value}
        values = {**defaults, **{name: _plain(v) for name, (_, v) in nodes.items()}}
        for name, (key_node, value_node) in nodes.items():
            if name not in FIELDS:
                raise fail(key_node, f"unknown field {name!r}; fields: {', '.join(FIELDS)}")
            expected = FIELDS[name]
            if not isinstance(values[name], expected) or (expected is not bool and isinstance(values[name], bool)):
                raise fail(value_node, f"field {name!r}: expected {expected.__name__}")
        for name in REQUIRED:
            if name not in values or values[name] in ("", None):
                raise fail(item, f"requirement {values.get('id', '?')!r}: missing field {name!r}")
        req_id = values["id"]
        if not ID_PATTERN.match(req_id):
            raise fail(nodes["id"][1], f"{req_id!r} is not a requirement ID (like BR-NOTIF-3 or GDPR-5-1-c)")
        if values["kind"] not in KINDS:
            raise fail(nodes.get("kind", (item, item))[1], f"kind must be one of {', '.join(KINDS)}")
        if values.get("verification", "automated") not in VERIFICATION:
            raise fail(nodes.get("verification", (item, item))[1],
                       f"verification must be one of {', '.join(VERIFICATION)}")
        if values.get("impact", IMPACTS[0]) not in IMPACTS:
            raise fail(nodes.get("impact", (item, item))[1], f"impact must be one of {', '.join(IMPACTS)}")
        link = values.get("link")
        if link is not None and not re.match(r"^https://\S+$", link):
            raise fail(nodes.get("link", (item, item))[1], "link must be an https URL")
        if values["kind"] == "legal" and not link:
            raise fail(item, f"requirement {req_id!r}: a legal requirement needs an official 'link'")
        result.append(Requirement(
            id=req_id, title=values["title"], kind=values["kind"], source=values["source"],
            reference=values["reference"], summary=values["summary"], link=link,
            verification=values.get("verification", "automated"), layers=tuple(values.get("layers", ())),
            needs_legal_review=values.get("needs_legal_review", False), review_note=values.get("review_note"),
            review_question=values.get("review_question"), related=tuple(values.get("related", ())),
            law=values.get("law"), impact=values.get("impact"), applies_to=tuple(values.get("applies_to", ())),
            file=display, line=item.start_mark.line + 1))
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


_REGISTER_FIELDS: dict[str, dict[str, type]] = {
    "attestations": {"requirement": str, "result": str, "who": str, "approver": str, "when": date, "expiry": date,
                     "evidence": str, "reason": str},
    "waivers": {"requirement": str, "reason": str, "who": str, "approver": str, "when": date, "expiry": date,
                "evidence": str},
}


def _load_register(path: Path, key: str, catalogue: Catalogue | None) -> list[tuple[dict[str, Any], int]]:
    """The entries of an attestation or waiver file as (values, line); every error names the file and the line."""
    display = _display(path)
    if not path.is_file():
        raise CatalogueError(f"{display}: the file does not exist (an empty register is '{key}: []')")
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.context_mark or exc.problem_mark
        raise CatalogueError(f"{display}{f', line {mark.line + 1}' if mark else ''}: not valid YAML: "
                             f"{exc.problem or exc}") from None
    if not isinstance(root, yaml.MappingNode) or [k.value for k, _ in root.value] != [key]:
        line = root.start_mark.line + 1 if root is not None else 1
        raise CatalogueError(f"{display}, line {line}: expected a mapping with only a {key!r} list")
    items = root.value[0][1]
    if not isinstance(items, yaml.SequenceNode):
        raise CatalogueError(f"{display}, line {items.start_mark.line + 1}: {key!r} must be a list")
    fields = _REGISTER_FIELDS[key]
    entries = []
    for item in items.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            raise CatalogueError(f"{display}, line {line}: each entry must be a mapping")
        values: dict[str, Any] = {}
        for key_node, node in item.value:
            where = f"{display}, line {key_node.start_mark.line + 1}"
            if key_node.value not in fields:
                raise CatalogueError(f"{where}: unknown field {key_node.value!r}; fields: {', '.join(fields)}")
            value = _plain(node)
            expected = fields[key_node.value]
            if not isinstance(value, expected) or (expected is str and not value.strip()):
                kind = "a date (YYYY-MM-DD)" if expected is date else "text"
                raise CatalogueError(f"{where}: {key_node.value!r} must be {kind}")
            values[key_node.value] = value
        missing = [name for name in fields if name not in values]
        if missing:
            raise CatalogueError(f"{display}, line {line}: missing {', '.join(missing)}")
        if catalogue is not None and values["requirement"] not in catalogue:
            hint = catalogue.suggest(values["requirement"])
            raise CatalogueError(f"{display}, line {line}: unknown requirement {values['requirement']!r}"
                                 + (f" (did you mean {hint}?)" if hint else ""))
        if not re.match(r"^https://\S+$", values["evidence"]):
            raise CatalogueError(f"{display}, line {line}: evidence must be an https link")
        if values["expiry"] < values["when"]:
            raise CatalogueError(f"{display}, line {line}: expiry is before the date it was made")
        if values["approver"].strip() == values["who"].strip():
            raise CatalogueError(f"{display}, line {line}: the approver must be someone other than who made it")
        entries.append((values, line))
    return entries


def load_attestations(path: Path = ATTESTATIONS, catalogue: Catalogue | None = None) -> list[Attestation]:
    """requirements/attestations.yaml: manual verdicts on requirements (who, approver, when, evidence, expiry)."""
    result = []
    for values, line in _load_register(path, "attestations", catalogue):
        if values["result"] not in ATTESTATION_RESULTS:
            raise CatalogueError(f"{_display(path)}, line {line}: result must be one of "
                                 f"{', '.join(ATTESTATION_RESULTS)}")
        result.append(Attestation(**values, file=_display(path), line=line))
    return result


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
