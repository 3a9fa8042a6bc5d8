"""harness/act.py: which finding counts for which ACT rule, which checks run on a case, and the verdicts the report
gives per rule: the layer's, each procedure's alone, and W3C's by procedure sets."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness import a11y, act


def _axe(rule: str, criterion: str) -> a11y.Finding:
    return replace(a11y.finding(rule, "axe", [criterion]), source="axe")


def test_a_browser_finding_counts_only_for_the_rules_its_check_implements() -> None:
    reach = a11y.finding("keyboard-reach", "nås inte", ["2.1.1"])
    iframe = a11y.finding("iframe-tab-order", "ur tabbordningen", ["2.1.1"])
    scrollable = act.Case("0ssw9k", "scrollable", "1", "passed", "p", ("2.1.1",))
    frames = act.Case("akn7bn", "iframe", "2", "failed", "p", ("2.1.1",))
    assert act.reported_failed(scrollable, [reach, iframe], {}) == []  # same criterion, another rule
    assert act.reported_failed(frames, [reach, iframe], {}) == [iframe]
    trap = a11y.finding("keyboard-trap", "fastnar", ["2.1.2"])
    for rule in ("80af7b", "a1b64e", "ebe86a"):  # a trap no key gets out of fails all three
        assert act.reported_failed(act.Case(rule, "trap", "3", "failed", "p", ()), [trap], {}) == [trap]
    contrast = _axe("color-contrast", "1.4.3")
    assert act.reported_failed(act.Case("afw4f7", "c", "4", "passed", "p", ("1.4.3",)), [contrast],
                               {"color-contrast": ["afw4f7"]}) == [contrast]


def test_only_the_checks_that_implement_a_rule_run_on_its_cases() -> None:
    assert act.own_checks("24afc2") == ["text-spacing"]
    assert act.own_checks("59br37") == ["text-zoom"]
    assert act.own_checks("80af7b") == act.own_checks("a1b64e") == ["keyboard"]
    assert act.own_checks("23a2a8") == []
    every_finding = {f for findings in act.CHECK_FINDINGS.values() for f in findings} | {"orientation"}
    assert set(act.BROWSER_ACT_IDS) == every_finding
    assert set(act.CHECK_FINDINGS) <= set(a11y.CHECKS)


def _case(expected: str, *by: str) -> dict[str, object]:
    return {"expected": expected, "reported": "failed" if by else "passed", "by": list(by)}


def test_an_axe_false_alarm_keeps_the_layer_inconsistent_and_shows_which_procedure_is_consistent() -> None:
    report = act.RuleReport("24afc2", "letter spacing", ("1.4.12",))
    report.cases = [_case("failed", "axe/avoid-inline-spacing", "browser/letter-spacing"),
                    _case("failed", "axe/avoid-inline-spacing", "browser/letter-spacing"),
                    _case("passed", "axe/avoid-inline-spacing"), _case("inapplicable")]
    assert report.verdict == "inconsistent"
    assert report.procedures == {"axe/avoid-inline-spacing": "inconsistent", "browser/letter-spacing": "consistent"}
    assert report.procedure_set_verdict == "consistent"
    assert act.own_consistent({"24afc2": report}) == ["24afc2"]


def test_partial_procedures_together_can_be_consistent_and_false_alarms_everywhere_stay_inconsistent() -> None:
    report = act.RuleReport("r", "rule", ())
    report.cases = [_case("failed", "axe/a"), _case("failed", "browser/b"), _case("passed")]
    assert report.procedures == {"axe/a": "partially consistent", "browser/b": "partially consistent"}
    assert report.verdict == report.procedure_set_verdict == "consistent"
    alarms = act.RuleReport("s", "rule", ())
    alarms.cases = [_case("failed", "axe/a"), _case("passed", "axe/a")]
    assert alarms.verdict == alarms.procedure_set_verdict == "inconsistent"
    assert act.own_consistent({"s": alarms}) == []


def test_the_report_gives_both_counts_and_each_procedure(tmp_path: Path) -> None:
    report = act.RuleReport("24afc2", "letter spacing", ("1.4.12",))
    report.cases = [_case("failed", "browser/letter-spacing"), _case("passed", "axe/avoid-inline-spacing")]
    json_path, html_path = act.write({"24afc2": report}, tmp_path, engine="axe-core 4.12.1", seconds=1.0)
    summary = json.loads(json_path.read_text(encoding="utf-8"))["summary"]
    assert summary["counts"]["inconsistent"] == 1 and summary["procedure_set_counts"]["consistent"] == 1
    assert summary["own_consistent"] == ["24afc2"]
    page = html_path.read_text(encoding="utf-8")
    assert "browser/letter-spacing: consistent" in page and "axe/avoid-inline-spacing: inconsistent" in page


def test_cases_that_are_not_html_pages_are_not_audited_and_own_checks_run_for_their_rules(tmp_path: Path) -> None:
    pytest.importorskip("playwright.sync_api")
    base = tmp_path / act.TESTCASES.parent / "testcases" / "2t702h"
    base.mkdir(parents=True)
    pages = {"passed": ("1.html", "<details><summary>Öppettider</summary><p>8–17</p></details>"),
             "failed": ("2.html", "<details><summary></summary><p>8–17</p></details>"),
             "inapplicable": ("3.svg", '<svg xmlns="http://www.w3.org/2000/svg"><text y="9">Text</text></svg>')}
    items = []
    for expected, (name, body) in pages.items():
        page = body if name.endswith(".svg") else f'<html lang="sv"><title>t</title><body>{body}</body></html>'
        (base / name).write_text(page, encoding="utf-8")
        items.append({"ruleId": "2t702h", "ruleName": "Summary has name", "testcaseId": name, "expected": expected,
                      "relativePath": f"/testcases/2t702h/{name}",
                      "ruleAccessibilityRequirements": {"wcag20:4.1.2": {"forConformance": True}}})
    (tmp_path / act.TESTCASES).write_text(json.dumps({"testcases": items}), encoding="utf-8")
    reports, _ = act.measure(tmp_path)
    report = reports["2t702h"]
    assert [(c["expected"], c["reported"]) for c in report.cases] == [
        ("passed", "passed"), ("failed", "failed"), ("inapplicable", "inapplicable")]
    assert report.cases[1]["by"] == ["browser/summary-name"] and "HTML" in report.cases[2]["note"]
    assert report.verdict == "consistent"


def _result(*findings: a11y.Finding, incomplete: tuple[str, ...] = (),
            refined: tuple[dict[str, object], ...] = ()) -> act.CaseResult:
    return act.CaseResult(list(findings), list(incomplete), list(refined), "axe-core 4.12.1")


def test_an_axe_rule_that_cannot_tell_makes_the_case_cant_tell_which_is_neither_a_pass_nor_a_failure() -> None:
    ids = {"color-contrast": ["afw4f7"], "image-alt": ["23a2a8"]}
    failed = act.Case("afw4f7", "contrast", "1", "failed", "p", ("1.4.3",))
    entry = act.outcome(failed, _result(incomplete=("color-contrast",)), ids)
    assert entry["reported"] == "cantTell" and entry["incomplete"] == ["axe/color-contrast"]
    assert act.outcome(failed, _result(incomplete=("image-alt",)), ids)["reported"] == "passed"  # another rule's
    report = act.RuleReport("afw4f7", "contrast", ("1.4.3",))
    report.cases = [{"expected": "failed", **entry}, {"expected": "failed", **_case("failed", "axe/color-contrast")},
                    {"expected": "passed", "reported": "cantTell", "by": []}]
    assert report.verdict == "partially consistent"  # not caught, and no false alarm either
    found = replace(_axe("color-contrast", "1.4.3"), tags=("wcag2aa",))
    assert act.outcome(failed, _result(found, incomplete=("color-contrast",)), ids)["reported"] == "failed"


def test_best_practice_findings_count_for_the_act_rules_their_axe_rule_names() -> None:
    heading = replace(_axe("empty-heading", "1.3.1"), criteria=(), tags=("cat.name-role-value", "best-practice"),
                      fails=False)
    case = act.Case("ffd0e9", "heading", "1", "failed", "p", ())
    entry = act.outcome(case, _result(heading), {"empty-heading": ["ffd0e9"]})
    assert entry["reported"] == "failed" and entry["by"] == ["axe/empty-heading"]


def test_nodes_the_refinement_took_out_are_named_on_the_case() -> None:
    note = {"rule": "color-contrast", "kind": "violations", "target": ["p"], "reason": "text that expresses nothing"}
    case = act.Case("afw4f7", "contrast", "1", "passed", "p", ("1.4.3",))
    entry = act.outcome(case, _result(refined=(note,)), {"color-contrast": ["afw4f7"]})
    assert entry["reported"] == "passed" and entry["refined"] == ["axe/color-contrast p: text that expresses nothing"]
    assert "refined" not in act.outcome(case, _result(refined=(note,)), {})


def test_the_cases_are_served_as_utf_8_as_w3_org_serves_them(tmp_path: Path) -> None:
    import urllib.request

    (tmp_path / "case.html").write_text("<p>±±±</p>", encoding="utf-8")
    with act.serve(tmp_path) as base, urllib.request.urlopen(f"{base}/case.html") as response:  # noqa: S310 - 127.0.0.1
        assert response.headers["content-type"] == "text/html; charset=utf-8"
