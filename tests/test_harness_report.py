"""Run folders and the single-file Allure report that opens offline (harness/evidence.py, harness/report.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import evidence, report
from harness.__main__ import main as harness_main

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
