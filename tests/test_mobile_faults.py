"""The mobile layer's flows (suites/mobile) pass on a clean system and catch the faults of the forced update,
the region hand-over and the ombud rule by exactly the flow that checks each, naming the requirement."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SUITE = Path(__file__).resolve().parent.parent / "suites" / "mobile"
PLUGINS = 'pytest_plugins = ["fixtures.target", "fixtures.sut", "fixtures.identities", "fixtures.api", ' \
          '"fixtures.browser", "fixtures.appium", "fixtures.evidence", "fixtures.report"]\n'
MODULES = ("screens.py", "mobile_flows.py", "test_app_flows.py")
FLOWS = ("test_forced_update", "test_region_not_joined_hands_over_to_the_browser", "test_switching_ombud")
CAUGHT = {
    None: set(),
    "min-version-ignored": {"test_app_flows.py::test_forced_update[local-android]"},
    "region-not-joined-served": {"test_app_flows.py::test_region_not_joined_hands_over_to_the_browser[local-android]"},
    "ombud-teen": {"test_app_flows.py::test_switching_ombud[local-android]"},
}
REQUIREMENT = {"min-version-ignored": "BR-REG-3", "region-not-joined-served": "BR-REG-1", "ombud-teen": "BR-PROXY-1"}


@pytest.fixture
def mobile_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The mobile layer's flows with their conftest and locators, in a folder of their own."""
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    pytester.makeconftest((SUITE / "conftest.py").read_text(encoding="utf-8") + "\n" + PLUGINS)
    for name in MODULES:
        pytester.makepyfile(**{name.removesuffix(".py"): (SUITE / name).read_text(encoding="utf-8")})
    (pytester.path / "screens.yaml").write_text((SUITE / "screens.yaml").read_text(encoding="utf-8"),
                                                encoding="utf-8")
    return pytester


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(CAUGHT), ids=[str(f) for f in CAUGHT])
def test_the_mobile_layer_catches_each_fault(mobile_suite: pytest.Pytester, fault: str | None) -> None:
    args = ["-p", "no:cacheprovider", "-p", "no:xdist", "-rf", "--device", "local-android",
            "-k", " or ".join(FLOWS), "--timeout", "300"] + (["--sut-faults", fault] if fault else [])
    result = mobile_suite.runpytest_subprocess(*args, timeout=600)
    output = result.stdout.str()
    failed = set(re.findall(r"^FAILED (test_\w+\.py::\S+)", output, re.MULTILINE))
    assert failed == CAUGHT[fault], output[-3000:]
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == len(FLOWS) - len(CAUGHT[fault]) and not outcomes.get("error"), outcomes
    if fault:
        assert f"this failure breaks: {REQUIREMENT[fault]}" in output, "the failure names the requirement"
