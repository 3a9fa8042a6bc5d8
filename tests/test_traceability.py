"""Traceability of a run: each requirement's tests, attestations and waivers give its status; untraced tests and
unverified requirements are listed; the last run of the same kind is compared; the report reads as HTML and PDF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from run_folders import TODAY, RunSpec, entry, write_catalogue, write_registers, write_run

from harness import traceability
from harness.__main__ import main


def _entry(req_id: str, result: str, expired: bool = False) -> dict[str, object]:
    return {"requirement": req_id, "result": result, "expired": expired, "expiry": "2027-01-01"}


@pytest.mark.parametrize(("verification", "tests", "attested", "waived", "expected"), [
    ("automated", "passed", [], [], ("passed", "test")),
    ("automated", "failed", [], [], ("failed", "test")),
    ("automated", "not reviewed", [], [], ("not reviewed", "none")),
    ("automated", "not reviewed", [("passed", False)], [], ("passed", "attestation")),
    ("automated", "passed", [("failed", False)], [], ("failed", "attestation")),
    ("manual", "not reviewed", [], [], ("not reviewed", "none")),
    ("manual", "not reviewed", [("passed", False)], [], ("passed", "attestation")),
    ("manual", "not reviewed", [("passed", True)], [], ("not reviewed", "none")),  # expired: counts for nothing
    ("manual", "not reviewed", [("not applicable", False)], [], ("not applicable", "attestation")),
    ("hybrid", "passed", [], [], ("not reviewed", "test")),  # the manual half is missing
    ("hybrid", "passed", [("passed", False)], [], ("passed", "test+attestation")),
    ("hybrid", "failed", [("passed", False)], [], ("failed", "test")),
    ("automated", "failed", [], [False], ("waived", "waiver")),
    ("automated", "failed", [], [True], ("failed", "test")),  # an expired waiver accepts nothing
    ("manual", "not reviewed", [], [False], ("waived", "waiver")),
])
def test_resulting_status(verification: str, tests: str, attested: list[tuple[str, bool]], waived: list[bool],
                          expected: tuple[str, str]) -> None:
    status, basis, _ = traceability.resulting_status(
        verification, tests, [_entry("X", r, e) for r, e in attested],
        [{"requirement": "X", "expired": e, "expiry": "2027-01-01"} for e in waived])
    assert (status, basis) == expected


def test_a_run_traced_with_registers_untraced_tests_and_report_links(tmp_path: Path) -> None:
    catalogue = write_catalogue(tmp_path / "catalogue")
    register = write_registers(tmp_path / "registers", catalogue, attestations=[
        entry("BR-T-3", result="passed", reason="Checked by hand."),
        entry("BR-T-4", result="passed", reason="The manual half.", expiry="2026-11-30")])  # expired
    run = write_run(tmp_path / "reports", "20261202-100000-release",
                    RunSpec(outcomes={"BR-T-1": "passed", "BR-T-2": "failed", "BR-T-4": "passed"}, untraced=2))
    (run / "allure-report").mkdir()
    (run / "allure-report" / "index.html").write_text("<html></html>")

    trace = traceability.build(run, catalogue, register, today=TODAY)

    by_id = {r["id"]: r for r in trace["requirements"]}
    assert {k: by_id[k]["status"] for k in by_id} == {
        "BR-T-1": "passed", "BR-T-2": "failed", "BR-T-3": "passed", "BR-T-4": "not reviewed",
        "BR-T-5": "not reviewed"}
    assert by_id["BR-T-3"]["basis"] == "attestation" and by_id["BR-T-3"]["attestations"][0]["who"] == "Granskare"
    assert by_id["BR-T-4"]["attestations"][0]["expired"] is True
    assert [e["requirement"] for e in trace["expired"]] == ["BR-T-4"]
    assert trace["unverified"] == ["BR-T-4", "BR-T-5"]
    assert trace["untraced_tests"] == ["suites/web/test_pages.py::test_page_0", "suites/web/test_pages.py::test_page_1"]
    link = by_id["BR-T-1"]["tests"][0]["report"]
    assert link.startswith("allure-report/index.html#") and len(link.rsplit("#", 1)[1]) == 32
    assert trace["summary"]["verified"] == 3 and trace["summary"]["coverage"] == 0.6
    assert trace["baseline"] is None


def test_the_last_run_of_the_same_kind_is_the_baseline(tmp_path: Path) -> None:
    catalogue = write_catalogue(tmp_path / "catalogue")
    register = write_registers(tmp_path / "registers", catalogue)
    reports = tmp_path / "reports"
    write_run(reports, "20261201-090000-release", RunSpec(outcomes={"BR-T-1": "passed", "BR-T-2": "failed"}))
    write_run(reports, "20261201-120000-api", RunSpec(outcomes={"BR-T-1": "failed"}))  # another kind
    now = write_run(reports, "20261202-090000-release", RunSpec(outcomes={"BR-T-1": "failed", "BR-T-2": "passed"}))

    trace = traceability.build(now, catalogue, register, today=TODAY)

    base = trace["baseline"]
    assert base["run"] == "20261201-090000-release"
    assert base["regressions"] == [{"id": "BR-T-1", "before": "passed", "now": "failed"}]
    assert base["fixes"] == [{"id": "BR-T-2", "before": "failed", "now": "passed"}]
    assert traceability.compare({"A": "passed"}, {"B": "passed"}) == {
        "regressions": [], "fixes": [], "changes": [], "new": [{"id": "A", "now": "passed"}],
        "removed": [{"id": "B", "before": "passed"}]}


def test_a_run_without_its_requirement_summary_cannot_be_traced(tmp_path: Path) -> None:
    catalogue = write_catalogue(tmp_path / "catalogue")
    register = write_registers(tmp_path / "registers", catalogue)
    (tmp_path / "run").mkdir()
    with pytest.raises(traceability.TraceError, match=r"requirements.json: missing"):
        traceability.build(tmp_path / "run", catalogue, register, today=TODAY)
    assert main(["trace", str(tmp_path / "run"), "--no-pdf"]) == 1


def test_the_report_reads_by_law_with_evidence_links_and_prints_to_pdf(tmp_path: Path) -> None:
    catalogue = write_catalogue(tmp_path / "catalogue")
    register = write_registers(tmp_path / "registers", catalogue, waivers=[
        entry("BR-T-2", reason="Accepted until the fix ships.")])
    run = write_run(tmp_path / "reports", "20261202-100000-release",
                    RunSpec(outcomes={"BR-T-1": "passed", "BR-T-2": "failed"}))
    (run / "allure-report").mkdir()
    (run / "allure-report" / "index.html").write_text("<html></html>")

    traceability.trace_run(run, today=TODAY, catalogue=catalogue, register=register)

    html = (run / traceability.TRACE_HTML).read_text(encoding="utf-8")
    assert '<html lang="sv">' in html and "<script" not in html
    assert "<h2>Affärsregler</h2>" in html and 'id="BR-T-2"' in html
    assert "undantag" in html and "Accepted until the fix ships." in html
    assert 'href="allure-report/index.html#' in html
    assert json.loads((run / traceability.TRACE_JSON).read_text())["summary"]["waived"] == 1
    assert (run / traceability.TRACE_PDF).read_bytes()[:5] == b"%PDF-"
