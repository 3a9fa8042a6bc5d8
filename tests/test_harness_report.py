"""Run folders, the single-file Allure report that opens offline, its behaviours view as text, and the bounded
fuzzing sample (harness/evidence.py, harness/report.py, fixtures/api.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.api import FuzzSample
from harness import evidence, report
from harness.__main__ import main as harness_main
from harness.requirements import load_catalogue

ANALYTICS_PAGE = """<html><head></head><body><div id="app"></div>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-XXXX"></script>
<script>
    window.dataLayer = window.dataLayer || [];
    function gtag(){dataLayer.push(arguments);}
    gtag('config', 'G-XXXX', {});
</script>
<script>window.allureReportData = {};</script>
</body></html>"""


def test_the_analytics_tag_is_removed_and_nothing_loads_from_the_network() -> None:
    assert report.remote_loads(ANALYTICS_PAGE)
    stripped = report.strip_remote(ANALYTICS_PAGE)
    assert "googletagmanager" not in stripped and "dataLayer" not in stripped
    assert "window.allureReportData" in stripped
    assert report.remote_loads(stripped) == []


def test_runs_are_folders_with_latest_pointing_at_the_newest(tmp_path: Path) -> None:
    first = evidence.create_run("api", tmp_path)
    second = evidence.create_run("api", tmp_path)
    assert first != second and (first / "allure-results").is_dir()
    assert evidence.RUN_ID_PATTERN.match(first.name)
    assert (tmp_path / "latest").resolve() == second.resolve()


def test_environment_and_categories_are_written_masked(tmp_path: Path) -> None:
    evidence.write_environment(tmp_path, {"target": "local", "note": "Bearer abcdefghijklmnop", "url": "http://x:1"})
    text = (tmp_path / "environment.properties").read_text()
    assert "target=local" in text and "abcdefghijklmnop" not in text and "url=http\\://x\\:1" in text
    categories = json.loads(evidence.write_categories(tmp_path).read_text())
    assert all("name" in c and "matchedStatuses" in c for c in categories)


def test_scan_reports_leaks_and_passes_clean_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "clean.txt").write_text("nothing here [personnummer]", encoding="utf-8")
    assert harness_main(["scan", str(tmp_path)]) == 0
    (tmp_path / "leak.json").write_text('{"pnr": "198706059816"}', encoding="utf-8")
    assert harness_main(["scan", str(tmp_path)]) == 1
    assert "leak.json: personnummer-like value" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not report.ALLURE_BIN.exists(), reason="Allure 3 is not installed (npm ci installs it)")
def test_single_file_report_builds_and_opens_offline(tmp_path: Path) -> None:
    results = tmp_path / "allure-results"
    results.mkdir()
    (results / "0a-result.json").write_text(json.dumps({
        "uuid": "0a", "historyId": "h", "name": "test_ombud", "fullName": "suites.api.test_ombud", "status": "passed",
        "stage": "finished", "start": 1, "stop": 2,
        "labels": [{"name": "requirement", "value": "BR-PROXY-1"}, {"name": "suite", "value": "api"}]}))
    index = report.build_allure_report(tmp_path, "1177-appen test")
    html = index.read_text(encoding="utf-8")
    assert "1177-appen test" in html and "googletagmanager" not in html
    assert report.remote_loads(html) == []
    by_law = (index.parent / report.BEHAVIOURS_FILE).read_text(encoding="utf-8")  # the view by law and requirement
    assert "1177-appen test: krav" in by_law and report.remote_loads(by_law) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["allure-report", "allure-results"]


def _result(results: Path, name: str, status: str, labels: list[tuple[str, str]]) -> None:
    uuid = f"{len(list(results.glob('*-result.json'))):02d}"
    (results / f"{uuid}-result.json").write_text(json.dumps({
        "uuid": uuid, "name": name, "status": status,
        "labels": [{"name": n, "value": v} for n, v in labels]}), encoding="utf-8")


def test_behaviours_tree_puts_each_requirement_under_its_own_law(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    catalogue = load_catalogue()
    staff, pdl = catalogue["BR-STAFF-1"].label, catalogue["PDL-4-1"].label
    results = tmp_path / "allure-results"
    results.mkdir()
    _result(results, "personal på en annan vårdenhet läser patientens meddelande -> 403/404", "passed",
            [("epic", "Affärsregler"), ("epic", "Patientdatalagen (2008:355)"), ("feature", staff),
             ("feature", pdl), ("story", "Personal når bara sin vårdenhets patienter."),
             ("story", "Vägran är problem+json.")])
    _result(results, "test_samordningsnummer_is_refused", "failed",
            [("epic", "Affärsregler"), ("feature", catalogue["BR-ID-1"].label)])
    tree = report.behaviours_tree(results, catalogue)
    assert tree.splitlines() == [
        "Affärsregler",
        f"  {catalogue['BR-ID-1'].label} (1 test)",
        "    (ingen kontroll angiven)",
        "      test_samordningsnummer_is_refused [failed]",
        f"  {staff} (1 test)",
        "    Personal når bara sin vårdenhets patienter.",
        "      personal på en annan vårdenhet läser patientens meddelande -> 403/404 [passed]",
        "    Vägran är problem+json.",
        "      personal på en annan vårdenhet läser patientens meddelande -> 403/404 [passed]",
        "Patientdatalagen (2008:355)",
        f"  {pdl} (1 test)",
        "    Personal når bara sin vårdenhets patienter.",
        "      personal på en annan vårdenhet läser patientens meddelande -> 403/404 [passed]",
        "    Vägran är problem+json.",
        "      personal på en annan vårdenhet läser patientens meddelande -> 403/404 [passed]",
    ]
    assert harness_main(["behaviours", str(tmp_path)]) == 0
    assert capsys.readouterr().out == tree


def test_a_fuzzing_sample_is_bounded_and_covers_each_operation_and_status() -> None:
    sample = FuzzSample(size=5)
    for n in range(1000):
        sample.add(f"GET /op{n % 3}", 200 if n % 2 else 422, b'{"ok": true}',
                   lambda n=n: f"curl -sS -X GET 'http://sut.test/op{n % 3}?n={n}'")
    assert sample.seen == 1000 and len(sample.kept) == 5
    assert set(sample.kept) == {("GET /op0", 422), ("GET /op1", 200), ("GET /op2", 422), ("GET /op0", 200),
                                ("GET /op1", 422)}
    text = sample.text()
    assert text.startswith("# 5 of 1000 requests") and "n=0'" in text and "n=999" not in text
