"""Requirement markers and evidence: unknown IDs stop collection, broken catalogues are named, IDs become Allure
behaviours (law -> requirement -> check), every requirement gets a status, flagged ones their review question."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from harness.requirements import CatalogueError, load_attestations, load_catalogue, load_waivers, review_gaps

pytest_plugins = ["pytester"]

PLUGINS = 'pytest_plugins = ["fixtures.target", "fixtures.sut", "fixtures.identities", "fixtures.api", ' \
          '"fixtures.evidence", "fixtures.report"]\n'


@pytest.fixture
def harness_dir(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    pytester.makeconftest(PLUGINS)
    return pytester


def test_unknown_requirement_id_fails_collection_naming_test_and_id(harness_dir: pytest.Pytester) -> None:
    harness_dir.makepyfile(test_reqs="""
        import pytest

        @pytest.mark.req("BR-INBOX-1")
        def test_known():
            pass

        @pytest.mark.req("BR-NOTIF-3", "GDPR-5-1-x")
        def test_typo():
            pass
    """)
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting test_reqs.py*",
                                 "*test_reqs.py::test_typo: unknown requirement ID 'GDPR-5-1-x' "
                                 "(did you mean 'GDPR-5-1-[ce]'?)*", "*1 error during collection*"])
    assert "test_known: unknown" not in result.stdout.str()


def test_unknown_id_is_found_under_xdist_too(harness_dir: pytest.Pytester) -> None:
    harness_dir.makepyfile(test_reqs="""
        import pytest

        @pytest.mark.req("NO-SUCH-RULE")
        def test_typo():
            pass
    """)
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    assert result.ret in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED)
    result.stdout.fnmatch_lines(["*test_reqs.py::test_typo: unknown requirement ID 'NO-SUCH-RULE'*"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_empty_marker_is_an_error(harness_dir: pytest.Pytester) -> None:
    harness_dir.makepyfile(test_reqs="""
        import pytest

        @pytest.mark.req()
        def test_nothing():
            pass
    """)
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*test_nothing: @pytest.mark.req() names no requirement*"])


def test_requirements_become_allure_behaviours_labels_and_links(harness_dir: pytest.Pytester) -> None:
    harness_dir.makepyfile(test_reqs='''
        import pytest

        @pytest.mark.req("BR-PROXY-1", "PDL-5-5-OMBUD")
        def test_ombud():
            """Ett ombud läser aldrig barnets logg."""

        @pytest.mark.req("BR-ID-2")
        @pytest.mark.check("Ett utgånget token nekas.", "Vägran är problem+json.")
        def test_expired():
            """Not this line: the check marker wins."""
    ''')
    results = harness_dir.path / "allure"
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider", f"--alluredir={results}")
    result.assert_outcomes(passed=2)
    data = {d["name"]: d for d in (json.loads(p.read_text()) for p in results.glob("*-result.json"))}
    labels = {(label["name"], label["value"]) for label in data["test_ombud"]["labels"]}
    ombud = "PDL-5-5-OMBUD No direct access to records for an ombud"
    proxy = "BR-PROXY-1 Guardians act for own children under 13 only, never in Journalen"
    assert {("requirement", proxy), ("requirement", ombud), ("feature", proxy), ("feature", ombud),
            ("epic", "Affärsregler"), ("epic", "Patientdatalagen (2008:355)"), ("legal_review", ombud),
            ("story", "Ett ombud läser aldrig barnets logg.")} <= labels
    # Searching an ID finds exactly its tests: every label value holds its ID as a whole token, and no other.
    assert not {v for n, v in labels if n in ("requirement", "feature") and v.split()[0] not in
                ("BR-PROXY-1", "PDL-5-5-OMBUD")}
    expired = {(label["name"], label["value"]) for label in data["test_expired"]["labels"]}
    assert {("story", "Ett utgånget token nekas."), ("story", "Vägran är problem+json."),
            ("epic", "Affärsregler")} <= expired
    assert not any(n == "requirement" and "PROXY" in v for n, v in expired)
    links = {link["url"] for link in data["test_ombud"]["links"]}
    assert any("riksdagen.se" in url and "patientdatalag" in url for url in links)
    check = _attachment(results, data["test_ombud"], "Vad testet kontrollerar")
    assert check == f"Kontroll: Ett ombud läser aldrig barnets logg.\nKrav: {proxy}\nKrav: {ombud}\n"
    environment = (results / "environment.properties").read_text()
    assert "target=local" in environment and "git.commit=" in environment
    categories = [c["name"] for c in json.loads((results / "categories.json").read_text())]
    # A 5xx is filed first, as a server error, so it is never read as a broken business rule.
    assert categories[0].startswith("Server error") and categories[1].startswith("Broken requirement")


def _attachment(results: Path, data: dict, name: str) -> str:
    (found,) = [a for a in data.get("attachments", []) if a["name"] == name]
    return (results / found["source"]).read_text(encoding="utf-8")


EXCHANGES = '''
    import httpx
    import pytest
    from harness.api_client import ApiClient

    def answer(request):
        return httpx.Response(200, json={"n": request.url.path, "pnr": "19121212-1212"})

    @pytest.fixture
    def client(api_recorder):
        with ApiClient("http://sut.test", label="patient", recorder=api_recorder,
                       transport=httpx.MockTransport(answer)) as client:
            yield client

    @pytest.mark.req("BR-INBOX-1")
    def test_passes(client):
        """Patienten öppnar sitt meddelande."""
        for n in range(20):
            client.get(f"/inbox/{n}", headers={"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz"})

    @pytest.mark.req("BR-INBOX-1")
    def test_fails(client):
        """Patienten öppnar sitt meddelande."""
        for n in range(20):
            client.get(f"/inbox/{n}")
        assert False, "the message was missing"
'''


def test_passing_tests_get_a_bounded_masked_sample_of_their_exchanges(harness_dir: pytest.Pytester) -> None:
    from fixtures.evidence import MAX_ATTACHED_EXCHANGES, MAX_SAMPLE_EXCHANGES

    harness_dir.makepyfile(test_exchanges=EXCHANGES)
    results = harness_dir.path / "allure"
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider", f"--alluredir={results}")
    result.assert_outcomes(passed=1, failed=1)
    data = {d["name"]: d for d in (json.loads(p.read_text()) for p in results.glob("*-result.json"))}
    for name, limit in (("test_passes", MAX_SAMPLE_EXCHANGES), ("test_fails", MAX_ATTACHED_EXCHANGES)):
        names = [a["name"] for a in data[name]["attachments"]]
        exchanges = [n for n in names if " patient: GET /inbox/" in n]
        assert len(exchanges) == limit, names
        assert exchanges[-1].endswith("patient: GET /inbox/19 -> 200")  # the last requests, where the check is
        assert "Vad testet kontrollerar" in names and "reproduce.curl.sh" in names
        texts = [(results / a["source"]).read_text() for a in data[name]["attachments"]]
        assert not any("19121212-1212" in t or "abcdefghijklmnopqrstuvwxyz" in t for t in texts)
        curl = _attachment(results, data[name], "reproduce.curl.sh")
        assert f"the last {limit} of 20 requests" in curl and "curl -sS -X GET" in curl


def test_requirements_json_lists_every_requirement_and_the_terminal_agrees(harness_dir: pytest.Pytester) -> None:
    harness_dir.makepyfile(test_reqs='''
        import pytest

        @pytest.mark.req("BR-INBOX-1", "PDL-5-5")
        def test_idor():
            assert False, "another patient's message was returned"

        @pytest.mark.req("BR-REG-3")
        def test_fine():
            pass

        @pytest.mark.req("BR-REG-3", "BR-ID-3")
        def test_skipped():
            pytest.skip("not on this target")

        @pytest.fixture
        def broken():
            raise RuntimeError("set-up broke")

        @pytest.mark.req("BR-NOTIF-2")
        def test_error(broken):
            pass

        @pytest.mark.req("BR-SEC-1", "PDL-4-1")
        def test_form_only(request):
            request.node.user_properties.append(("broken_requirements", "BR-SEC-1"))
            assert False, "the refusal is not problem+json"
    ''')
    run_dir = harness_dir.path / "run"
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider", f"--run-dir={run_dir}")
    result.assert_outcomes(passed=1, failed=2, skipped=1, errors=1)
    catalogue = load_catalogue()
    summary = json.loads((run_dir / "requirements.json").read_text())
    reqs = summary["requirements"]
    assert list(reqs) == list(catalogue.requirements)  # every requirement, in catalogue order
    assert reqs["BR-INBOX-1"]["status"] == "failed" and reqs["PDL-5-5"]["status"] == "failed"
    assert reqs["BR-INBOX-1"]["tests"] == [{"test": "test_reqs.py::test_idor", "outcome": "failed"}]
    assert reqs["BR-REG-3"]["status"] == "passed"
    assert reqs["BR-REG-3"]["tests"] == [{"test": "test_reqs.py::test_fine", "outcome": "passed"},
                                         {"test": "test_reqs.py::test_skipped", "outcome": "skipped"}]
    assert reqs["BR-NOTIF-2"]["status"] == "error"
    assert reqs["BR-ID-3"]["status"] == "not reviewed" and "1 skipped" in reqs["BR-ID-3"]["reason"]
    # A failure that names what it breaks fails only that: the test's other requirement is neither verified nor broken.
    assert reqs["BR-SEC-1"]["status"] == "failed"
    assert reqs["PDL-4-1"]["status"] == "not reviewed" and "1 inconclusive" in reqs["PDL-4-1"]["reason"]
    assert reqs["PDL-4-1"]["tests"] == [{"test": "test_reqs.py::test_form_only", "outcome": "inconclusive"}]
    assert reqs["GDPR-17"] | {"tests": []} == reqs["GDPR-17"] and reqs["GDPR-17"]["status"] == "not reviewed"
    flagged = reqs["OSL-12-3"]
    assert flagged["needs_legal_review"] and flagged["review_question"].endswith("?") and flagged["review_note"]
    assert flagged["law"] == "Offentlighets- och sekretesslagen (2009:400)" and flagged["reference"]
    counts = summary["summary"]
    flagged_count = sum(r.needs_legal_review for r in catalogue.requirements.values())
    assert counts == {"total": len(catalogue), "passed": 1, "failed": 3, "error": 1, "not applicable": 0,
                      "not reviewed": len(catalogue) - 5, "needs legal review": flagged_count}
    assert summary["broken"] == ["BR-INBOX-1", "BR-NOTIF-2", "BR-SEC-1", "PDL-5-5"]
    assert summary["verified"] == ["BR-REG-3"]
    assert set(summary["not_reviewed"]) == {r for r, v in reqs.items() if v["status"] == "not reviewed"}
    result.stdout.fnmatch_lines([
        f"{len(catalogue)} requirements: 1 passed, 3 failed, 1 error, 0 not applicable, {len(catalogue) - 5} "
        f"not reviewed; {flagged_count} need legal review",
        "FAILED BR-INBOX-1 Messages from care units to the patient: 1 failed of 1 test(s), e.g. *test_idor",
        "ERROR BR-NOTIF-2 *: 1 error of 1 test(s), e.g. *test_error",
        "not reviewed: BR-ID-1, BR-ID-2, BR-ID-3, *", "broken requirements: BR-INBOX-1, BR-NOTIF-2, BR-SEC-1, PDL-5-5"])
    assert "this failure breaks: BR-SEC-1\n" in result.stdout.str()


def test_every_flagged_requirement_has_its_review_question() -> None:
    catalogue = load_catalogue()
    assert review_gaps(catalogue) == []
    flagged = [r for r in catalogue.requirements.values() if r.needs_legal_review]
    assert {r.id for r in flagged} >= {"PDL-5-5-OMBUD", "OSL-12-3", "HSLF-FS-2016-40-4-9"}
    for req in catalogue.requirements.values():
        if req.kind == "legal":
            assert req.law and req.reference and req.summary, req.id


def test_a_flagged_entry_without_its_question_is_named(tmp_path: Path) -> None:
    (tmp_path / "legal.yaml").write_text(
        "requirements:\n  - id: OSL-99\n    title: T\n    kind: legal\n    source: S\n    reference: R\n"
        "    law: L\n    link: https://example.org/\n    summary: S\n    impact: low\n    applies_to: [app]\n"
        "    needs_legal_review: true\n"
        "    review_note: The section number is from a secondary source.\n"
        "    review_question: Confirm it.\n", encoding="utf-8")
    (gap,) = review_gaps(load_catalogue(tmp_path))
    assert gap.endswith("legal.yaml, line 2: OSL-99: the review_question is not a question")
    text = (tmp_path / "legal.yaml").read_text().replace("    review_question: Confirm it.\n", "")
    (tmp_path / "legal.yaml").write_text(text, encoding="utf-8")
    (gap,) = review_gaps(load_catalogue(tmp_path))
    assert gap.endswith("legal.yaml, line 2: OSL-99 needs legal review but has no 'review_question'")


def test_the_catalogue_points_at_no_document_outside_the_repository() -> None:
    folder = Path(__file__).resolve().parent.parent / "requirements"
    for path in [*folder.rglob("*.yaml"), *folder.rglob("*.md")]:
        for name in re.findall(r"\b[\w./-]+\.md\b", path.read_text(encoding="utf-8")):
            candidates = [path.parent / name, folder.parent / name]
            assert any(c.exists() for c in candidates), f"{path.name} points at {name}, not in the repository"


def test_catalogue_covers_every_business_rule_and_flags_unverified_law() -> None:
    catalogue = load_catalogue()
    design_rules = {"BR-ID-1", "BR-ID-2", "BR-ID-3", "BR-REG-1", "BR-REG-2", "BR-REG-3", "BR-INBOX-1", "BR-INBOX-2",
                    "BR-NOTIF-1", "BR-NOTIF-2", "BR-NOTIF-3", "BR-NOTIF-4", "BR-PROXY-1", "BR-STAFF-1",
                    "BR-AUDIT-1", "BR-GDPR-1", "BR-SEC-1", "BR-A11Y-1"}
    assert design_rules <= set(catalogue.requirements)
    for req in catalogue.requirements.values():
        if req.kind == "legal":
            assert req.link and req.link.startswith("https://"), req.id
            assert req.source and req.reference, req.id
    assert catalogue["HSLF-FS-2016-40-4-9"].needs_legal_review
    assert catalogue["OSL-12-3"].needs_legal_review
    assert not catalogue["GDPR-17"].needs_legal_review


WHAT = "    impact: low\n    applies_to: [backend]\n"


@pytest.mark.parametrize(("text", "line", "message"), [
    ("requirements:\n  - id: BR-X-1\n    title: [unclosed\n", 3, "not valid YAML"),
    ("requirements:\n  - id: BR-X-1\n    title: T\n    kind: business-rule\n    source: S\n    reference: R\n"
     "    summary: S\n    colour: blue\n" + WHAT, 8, "unknown field 'colour'"),
    ("requirements:\n  - id: GDPR-99\n    title: T\n    kind: legal\n    law: L\n    source: S\n"
     "    reference: R\n    summary: S\n" + WHAT, 2, "needs an official 'link'"),
    ("requirements:\n  - id: lower-case\n    title: T\n    kind: legal\n    source: S\n    reference: R\n"
     "    summary: S\n" + WHAT, 2, "is not a requirement ID"),
    # impact and applies_to are required of every entry; a wrong value is named at its own line
    ("requirements:\n  - id: BR-X-1\n    title: T\n    kind: business-rule\n    source: S\n    reference: R\n"
     "    summary: S\n    applies_to: [app]\n", 2, "requirement 'BR-X-1': missing field 'impact'"),
    ("requirements:\n  - id: BR-X-1\n    title: T\n    kind: business-rule\n    source: S\n    reference: R\n"
     "    summary: S\n    impact: severe\n    applies_to: [app]\n", 8, "impact must be one of critical, high"),
    ("requirements:\n  - id: BR-X-1\n    title: T\n    kind: business-rule\n    source: S\n    reference: R\n"
     "    summary: S\n    impact: low\n    applies_to: [app, kitchen]\n", 9, "applies_to must be one of app,"),
    ("requirements:\n  - id: BR-X-1\n    title: T\n    kind: business-rule\n    source: S\n    reference: R\n"
     "    summary: S\n    impact: low\n    applies_to: []\n", 9, "'applies_to' must name at least one"),
    ("requirements:\n  - id: BR-X-1\n    title: T\n    kind: business-rule\n    source: S\n    reference: R\n"
     "    summary: S\n    layers: web\n" + WHAT, 8, "field 'layers': expected a list"),
    # a value the entry takes from the file's defaults is named where the defaults give it
    ("defaults:\n  kind: legal\n  impact: urgent\nrequirements:\n  - id: GDPR-98\n    title: T\n    law: L\n"
     "    source: S\n    reference: R\n    link: https://example.org/\n    summary: S\n    applies_to: [app]\n",
     3, "impact must be one of"),
])
def test_broken_catalogue_names_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    (tmp_path / "broken.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(tmp_path)
    assert f"broken.yaml, line {line}" in str(caught.value)
    assert message in str(caught.value)


def test_duplicate_id_names_both_places(tmp_path: Path) -> None:
    entry = ("requirements:\n  - id: BR-X-1\n    title: T\n    kind: business-rule\n    source: S\n"
             "    reference: R\n    summary: S\n" + WHAT)
    (tmp_path / "a.yaml").write_text(entry, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(entry, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"b\.yaml, line 2: BR-X-1 is already defined in .*a\.yaml, line 2"):
        load_catalogue(tmp_path)


# --- attestations and waivers -------------------------------------------------------------------------------------
ATTESTATION = """attestations:
  - requirement: PDL-4-3
    result: {result}
    who: Informationssäkerhetsansvarig
    approver: {approver}
    when: 2026-11-20
    expiry: {expiry}
    evidence: https://dokument.1177-test.invalid/attest/1
    reason: Loggarna granskades stickprovsvis.
"""


def test_the_projects_attestations_and_waivers_are_valid() -> None:
    catalogue = load_catalogue()
    assert all(a.requirement in catalogue for a in load_attestations(catalogue=catalogue))
    assert all(w.requirement in catalogue for w in load_waivers(catalogue=catalogue))


def test_an_attestation_expires_after_its_last_day(tmp_path: Path) -> None:
    path = tmp_path / "attestations.yaml"
    path.write_text(ATTESTATION.format(result="passed", approver="CISO", expiry="2027-05-20"), encoding="utf-8")
    (attestation,) = load_attestations(path, load_catalogue())
    assert (attestation.requirement, attestation.result, attestation.line) == ("PDL-4-3", "passed", 2)
    assert not attestation.expired(date(2027, 5, 20)) and attestation.expired(date(2027, 5, 21))


@pytest.mark.parametrize(("text", "message"), [
    # A wrong value is named at its own line (the schema error's path, followed back to the YAML node).
    (ATTESTATION.format(result="ok", approver="CISO", expiry="2027-01-01"), "line 3: result must be one of"),
    (ATTESTATION.format(result="passed", approver="CISO", expiry="snart"), "line 7: 'expiry' must be a date"),
    (ATTESTATION.format(result="passed", approver="CISO", expiry="2026-01-01"), "line 2: expiry is before"),
    (ATTESTATION.format(result="passed", approver="Informationssäkerhetsansvarig", expiry="2027-01-01"),
     "line 2: the approver must be someone other"),
    (ATTESTATION.format(result="passed", approver="CISO", expiry="2027-01-01").replace("PDL-4-3", "PDL-4-33"),
     "line 2: unknown requirement 'PDL-4-33' (did you mean PDL-4-3?)"),
    (ATTESTATION.format(result="passed", approver="CISO", expiry="2027-01-01").replace("    reason: L", "    resn: L"),
     "line 9: unknown field 'resn'"),
    (ATTESTATION.format(result="passed", approver="CISO", expiry="2027-01-01").replace("https://", "file:///"),
     "line 8: evidence must be an https link"),
    (ATTESTATION.format(result="passed", approver="CISO", expiry="2027-02-30"), "line 7: 'expiry' must be a date"),
    (ATTESTATION.format(result="passed", approver="CISO", expiry="2027-01-01").replace(
        "    who: Informationssäkerhetsansvarig", "    who: ' '"), "line 4: 'who' must be text"),
    ("attestations:\n  - requirement: [PDL-4-3\n", "line 2: not valid YAML"),
    ("waivers: []\n", "line 1: expected a mapping with only a 'attestations' list"),
])
def test_a_broken_attestation_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "attestations.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"attestations\.yaml") as error:
        load_attestations(path, load_catalogue())
    assert message in str(error.value)


def test_a_waiver_needs_its_approver(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text("waivers:\n  - requirement: BR-SEC-1\n    reason: HSTS saknas i testmiljön.\n    who: Teamet\n"
                    "    when: 2026-11-20\n    expiry: 2026-12-20\n"
                    "    evidence: https://dokument.1177-test.invalid/waiver/1\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"waivers\.yaml, line 2: missing approver"):
        load_waivers(path, load_catalogue())


def test_the_schemas_are_valid_json_schemas_and_every_entry_names_impact_and_scope() -> None:
    from jsonschema import Draft202012Validator

    from harness.requirements import IMPACTS, SCHEMA_DIR

    names = sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json"))
    assert names == ["attestations.schema.json", "catalogue.schema.json", "register.schema.json",
                     "waivers.schema.json"]
    for name in names:
        Draft202012Validator.check_schema(json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8")))
    for req in load_catalogue().requirements.values():
        assert req.impact in IMPACTS and req.applies_to, req.id


def test_every_law_is_broken_into_requirements_and_manual_ones_are_attested() -> None:
    catalogue = load_catalogue()
    laws = {req.epic for req in catalogue.requirements.values()}
    assert {"GDPR (EU) 2016/679", "Patientdatalagen (2008:355)", "HSLF-FS 2016:40", "Cybersäkerhetslag (2025:1506)",
            "Arkivlag (1990:782)", "Offentlighets- och sekretesslagen (2009:400)", "DOS-lagen (2018:1937)",
            "CER-direktivet (EU) 2022/2557", "HSLF-FS 2022:42 (NMI)"} <= laws
    attested = {a.requirement for a in load_attestations(catalogue=catalogue)}
    # The accessibility criteria a person checks are in manual-checks.yaml, the register the statement is made from.
    manual = {r.id for r in catalogue.requirements.values()
              if r.verification in ("manual", "hybrid") and not r.id.startswith(("WCAG-", "MDFFS-", "DOS-10"))}
    assert manual - attested == set()
    automated = {r.id for r in catalogue.requirements.values() if r.verification == "automated"}
    assert attested & automated == set(), "an attestation of what a test verifies"
