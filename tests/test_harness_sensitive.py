"""The sensitive-target guard: destructive tests are skipped on a sensitive target unless explicitly allowed."""

from __future__ import annotations

import pytest
from support import write_remote_target

pytest_plugins = ["pytester"]

PLUGINS = 'pytest_plugins = ["fixtures.target", "fixtures.sut", "fixtures.identities", "fixtures.api", ' \
          '"fixtures.evidence", "fixtures.report"]\n'
TESTS = """
import pytest

@pytest.mark.destructive
def test_writes():
    pass

def test_reads():
    pass
"""


@pytest.fixture
def harness_dir(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(test_guard=TESTS)
    return pytester


def test_sensitive_target_skips_destructive_tests_and_says_so(harness_dir: pytest.Pytester) -> None:
    target = write_remote_target(harness_dir.path / "prodlike.toml", sensitive=True)
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider", "-rs", f"--target={target}")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "target 'prodlike' is sensitive: tests marked destructive are skipped (--allow-destructive runs them)",
        "*SKIPPED*destructive test skipped on the sensitive target 'prodlike' (--allow-destructive runs it)*",
    ])


def test_allow_destructive_runs_them(harness_dir: pytest.Pytester) -> None:
    target = write_remote_target(harness_dir.path / "prodlike.toml", sensitive=True)
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider", f"--target={target}", "--allow-destructive")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["target 'prodlike' is sensitive: destructive tests run (--allow-destructive given)"])


def test_non_sensitive_target_runs_destructive_tests(harness_dir: pytest.Pytester) -> None:
    target = write_remote_target(harness_dir.path / "qa.toml", sensitive=False)
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider", f"--target={target}")
    result.assert_outcomes(passed=2)
    assert "is sensitive" not in result.stdout.str()


def test_remote_targets_are_sensitive_unless_they_say_otherwise(harness_dir: pytest.Pytester) -> None:
    target = write_remote_target(harness_dir.path / "silent.toml", sensitive=None)
    result = harness_dir.runpytest_subprocess("-p", "no:cacheprovider", f"--target={target}")
    result.assert_outcomes(passed=1, skipped=1)
