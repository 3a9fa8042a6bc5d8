"""harness/act.py: the ACT implementation report, on a small set of cases made here in the W3C layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import act

IMAGE_RULE = {"ruleId": "23a2a8", "ruleName": "Image has non-empty accessible name",
              "ruleAccessibilityRequirements": {"wcag20:1.1.1": {"forConformance": True}}}
CASES = {
    "passed": '<html lang="en"><title>t</title><img src="/x.png" alt="W3C"></html>',
    "failed": '<html lang="en"><title>t</title><img src="/x.png"></html>',
    "inapplicable": '<html lang="en"><title>t</title><p>Ingen bild</p></html>',
}


def _rules_folder(tmp_path: Path, cases: dict[str, str]) -> Path:
    base = tmp_path / act.TESTCASES.parent
    (base / "testcases" / "23a2a8").mkdir(parents=True)
    items = []
    for number, (expected, page) in enumerate(cases.items()):
        (base / "testcases" / "23a2a8" / f"{number}.html").write_text(page, encoding="utf-8")
        items.append({**IMAGE_RULE, "testcaseId": str(number), "expected": expected,
                      "relativePath": f"/testcases/23a2a8/{number}.html", "url": "https://www.w3.org/"})
    (tmp_path / act.TESTCASES).write_text(json.dumps({"testcases": items}), encoding="utf-8")
    return tmp_path


def test_a_missing_rules_folder_says_what_to_give(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(act.ENV_VAR, raising=False)
    with pytest.raises(act.RulesMissing, match="--rules FOLDER or set ACT_RULES"):
        act.rules_folder(None)
    with pytest.raises(act.RulesMissing, match=r"testcases\.json"):
        act.rules_folder(str(tmp_path))
    monkeypatch.setenv(act.ENV_VAR, str(_rules_folder(tmp_path, CASES)))
    assert act.rules_folder(None) == tmp_path.resolve()
    assert act.main(["--rules", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2


def _report(*outcomes: tuple[str, str]) -> act.RuleReport:
    report = act.RuleReport("r", "rule", ("1.1.1",))
    report.cases = [{"expected": e, "reported": r} for e, r in outcomes]
    return report


def test_verdicts_follow_w3c() -> None:
    assert _report(("failed", "failed"), ("passed", "passed")).verdict == "consistent"
    assert _report(("failed", "failed"), ("failed", "passed")).verdict == "partially consistent"
    assert _report(("failed", "failed"), ("inapplicable", "failed")).verdict == "inconsistent"
    assert _report(("failed", "passed"), ("passed", "passed")).verdict == "untested"
    assert _report(("failed", "cantTell"), ("passed", "passed")).verdict == "untested"


def test_a_finding_counts_for_the_act_rules_axe_names_or_the_criteria_a_check_judges() -> None:
    from dataclasses import replace

    from harness import a11y

    case = act.Case("23a2a8", "rule", "1", "passed", "p", ("1.1.1",))
    title = a11y.finding("page-title", "ingen titel", ["2.4.2"])
    resize = a11y.finding("text-resize", "klipps", ["1.4.4"])
    image_alt = replace(a11y.finding("image-alt", "ingen text", ["1.1.1"]), source="axe")
    role_img = replace(a11y.finding("role-img-alt", "ingen text", ["1.1.1"]), source="axe")
    act_ids = {"image-alt": ["23a2a8"], "role-img-alt": ["qwe123"]}
    assert act.reported_failed(case, [title, role_img], act_ids) == []
    assert act.reported_failed(case, [title, resize, image_alt, role_img], act_ids) == [image_alt]
    spacing = act.Case("24afc2", "letter spacing", "2", "passed", "p", ("1.4.12",))
    letter, line = a11y.finding("letter-spacing", "tätt", ["1.4.12"]), a11y.finding("line-height", "tätt", ["1.4.12"])
    assert act.reported_failed(spacing, [letter, line], act_ids) == [letter]
    keyboard = act.Case("80af7b", "trap", "3", "failed", "p", ("2.1.2",))
    trap = a11y.finding("keyboard-trap", "fastnar", ["2.1.2"])
    assert act.reported_failed(keyboard, [trap, letter], act_ids) == [trap]


def test_cases_are_served_checked_and_reported(tmp_path: Path) -> None:
    pytest.importorskip("playwright.sync_api")
    folder = _rules_folder(tmp_path / "rules", CASES)
    reports, engine = act.measure(folder)
    assert engine.startswith("axe-core ")
    (report,) = reports.values()
    assert [(c["expected"], c["reported"]) for c in report.cases] == [
        ("passed", "passed"), ("failed", "failed"), ("inapplicable", "passed")]
    assert report.verdict == "consistent"
    json_path, html_path = act.write(reports, tmp_path / "out", engine=engine, seconds=1.0)
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["summary"]["counts"] == {"consistent": 1, "partially consistent": 0, "inconsistent": 0,
                                         "untested": 0}
    assert "23a2a8" in html_path.read_text(encoding="utf-8")


def test_every_browser_finding_the_act_report_counts_comes_from_a_check_the_layer_runs() -> None:
    from harness import a11y

    assert set(act.CHECK_FINDINGS) <= set(a11y.CHECKS)
    assert {f for findings in act.CHECK_FINDINGS.values() for f in findings} <= set(act.BROWSER_ACT_IDS)
    assert act.own_checks("6cfa84") == ["aria-hidden-focus"] and act.own_checks("d0f69e") == ["table-headers"]
    assert act.own_checks("afw4f7") == act.own_checks("09o5cg") == ["contrast-background"]
    enhanced = act.Case("afw4f7", "contrast", "4", "passed", "p", ("1.4.3",))
    aaa = a11y.finding("contrast-background-enhanced", "kontrast", ["1.4.6"])
    assert act.reported_failed(enhanced, [aaa], {}) == []  # 7:1 missed is no failure of the 4.5:1 rule
