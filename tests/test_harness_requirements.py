"""Requirement markers: unknown IDs stop collection, broken catalogues are named, IDs become Allure labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.requirements import CatalogueError, load_catalogue

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
                                 "(did you mean 'GDPR-5-1-c'?)*", "*1 error during collection*"])
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


def test_requirements_become_allure_labels_and_links(harness_dir: pytest.Pytester) -> None:
    harness_dir.makepyfile(test_reqs="""
        import pytest

        @pytest.mark.req("BR-PROXY-1", "PDL-5-5-OMBUD")
        def test_ombud():
            pass
    """)
    results = harness_dir.path / "allure"
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider", f"--alluredir={results}")
    result.assert_outcomes(passed=1)
    (data,) = [json.loads(p.read_text()) for p in results.glob("*-result.json")]
    labels = {(label["name"], label["value"]) for label in data["labels"]}
    assert {("requirement", "BR-PROXY-1"), ("requirement", "PDL-5-5-OMBUD"), ("feature", "PDL"),
            ("epic", "Lagkrav"), ("epic", "Affärsregler"), ("legal_review", "PDL-5-5-OMBUD")} <= labels
    links = {link["url"] for link in data["links"]}
    assert any("riksdagen.se" in url and "patientdatalag" in url for url in links)
    environment = (results / "environment.properties").read_text()
    assert "target=local" in environment and "git.commit=" in environment
    assert json.loads((results / "categories.json").read_text())[0]["name"].startswith("Broken requirement")


def test_failed_requirements_are_named_in_the_summary(harness_dir: pytest.Pytester) -> None:
    harness_dir.makepyfile(test_reqs="""
        import pytest

        @pytest.mark.req("BR-INBOX-1", "PDL-5-5")
        def test_idor():
            assert False, "another patient's message was returned"

        @pytest.mark.req("BR-REG-3")
        def test_fine():
            pass
    """)
    run_dir = harness_dir.path / "run"
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider", f"--run-dir={run_dir}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*1 requirement(s) verified, 2 broken*", "BROKEN BR-INBOX-1*",
                                 "BROKEN PDL-5-5*", "broken requirements: BR-INBOX-1, PDL-5-5"])
    summary = json.loads((run_dir / "requirements.json").read_text())
    assert summary["broken"] == ["BR-INBOX-1", "PDL-5-5"] and summary["verified"] == ["BR-REG-3"]


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


@pytest.mark.parametrize(("text", "line", "message"), [
    ("requirements:\n  - id: BR-X-1\n    title: [unclosed\n", 3, "not valid YAML"),
    ("requirements:\n  - id: BR-X-1\n    title: T\n    kind: business-rule\n    source: S\n    reference: R\n"
     "    summary: S\n    colour: blue\n", 8, "unknown field 'colour'"),
    ("requirements:\n  - id: GDPR-99\n    title: T\n    kind: legal\n    source: S\n    reference: R\n"
     "    summary: S\n", 2, "needs an official 'link'"),
    ("requirements:\n  - id: lower-case\n    title: T\n    kind: legal\n    source: S\n    reference: R\n"
     "    summary: S\n", 2, "is not a requirement ID"),
])
def test_broken_catalogue_names_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    (tmp_path / "broken.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(tmp_path)
    assert f"broken.yaml, line {line}" in str(caught.value)
    assert message in str(caught.value)


def test_duplicate_id_names_both_places(tmp_path: Path) -> None:
    entry = ("requirements:\n  - id: BR-X-1\n    title: T\n    kind: business-rule\n    source: S\n"
             "    reference: R\n    summary: S\n")
    (tmp_path / "a.yaml").write_text(entry, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(entry, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"b\.yaml, line 2: BR-X-1 is already defined in .*a\.yaml, line 2"):
        load_catalogue(tmp_path)
