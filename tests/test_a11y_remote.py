"""The accessibility layer audits a target that is not the embedded system, from its target file alone: the pages
and states of its [a11y] table, logged in through the steps of its own login page. The reference system stands in
for the real site, described as a remote target (no control API, persons from the environment)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from support import layer_copy

pytest_plugins = ["pytester"]

LOGIN = """login = [
    {{ goto = "{{web}}/login?next=/" }},
    {{ fill = "{field}", value = "{{personnummer}}" }},
    {{ click = "data-testid=login-submit" }},
    {{ wait_for_url = "{{web}}/" }},
]
"""


def site(base: str, *, field: str = "#personnummer") -> str:
    """A remote target file for the running reference system: two states, its login page as steps."""
    base = base.rstrip("/")
    return f"""name = "site"
kind = "remote"
sensitive = true
[urls]
base = "{base}"
web = "{base}/"
login = "{base}/idp/authorize"
idp = "{base}/idp"
mobile_api = "{base}/api/v1"
mobile_openapi = "{base}/api/v1/openapi.json"
staff_api = "{base}/staff/v1"
staff_openapi = "{base}/staff/v1/openapi.json"

[persons.adult]
personnummer = {{ env = "A11Y_SITE_PNR" }}

[a11y]
skip = "/settings"
{LOGIN.format(field=field)}
[[a11y.states]]
name = "utloggad"
entries = ["/logged-out"]
crawl = false

[[a11y.states]]
name = "inloggad"
person = "adult"
entries = ["/"]
"""


@pytest.fixture
def a11y_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, base_url: str,
               new_person: Callable[[str], dict[str, Any]]) -> Callable[..., pytest.RunResult]:
    """``run(field=...)``: the a11y layer in a folder of its own against the site's target file."""
    person = new_person("adult")
    monkeypatch.setenv("A11Y_SITE_PNR", person["personnummer"])
    layer_copy(pytester, monkeypatch, "a11y", "audit.py", "test_a11y.py", browser=True)

    def run(*args: str, field: str = "#personnummer") -> pytest.RunResult:
        target = pytester.path / "site.toml"
        target.write_text(site(base_url, field=field), encoding="utf-8")
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", "-rfs", "--target", str(target),
            "--devices", "desktop", "--run-dir", str(pytester.path / "run"), *args, timeout=600)
        assert person["personnummer"] not in result.stdout.str() + result.stderr.str()
        return result

    return run


@pytest.mark.slow
def test_a_remote_site_is_audited_from_its_target_file(a11y_suite: Callable[..., pytest.RunResult],
                                                       pytester: pytest.Pytester) -> None:
    result = a11y_suite("-k", "keyboard or (axe and light)")
    output = result.stdout.str()
    assert result.parseoutcomes().get("passed") == 4, output[-3000:]  # two states, axe and the browser checks
    ids = set(re.findall(r"test_a11y\.py::(\S+\[[^\]]+\])", output))
    assert not ids or all(("utloggad" in i) or ("inloggad" in i) for i in ids)
    audited = {p for f in (pytester.path / "run" / "a11y").glob("*.json") for p in re.findall(
        r'"pages": \["([^"]+)"\]', f.read_text(encoding="utf-8"))}
    assert "utloggad /logged-out" in audited
    logged_in = {p.removeprefix("inloggad ") for p in audited if p.startswith("inloggad ")}
    assert {"/", "/inbox"} <= logged_in, f"the crawl of the logged-in state found only {sorted(logged_in)}"
    assert not any(p.startswith("/settings") for p in logged_in), "the target file's skip is obeyed"


@pytest.mark.slow
def test_a_login_step_that_does_not_work_names_its_line(a11y_suite: Callable[..., pytest.RunResult]) -> None:
    result = a11y_suite("-k", "keyboard and inloggad", field="#pnr-field-that-is-not-there")
    output = result.stdout.str()
    assert result.parseoutcomes().get("failed") == 1, output[-3000:]
    line = site("http://x", field="#pnr-field-that-is-not-there").splitlines().index(
        '    { fill = "#pnr-field-that-is-not-there", value = "{personnummer}" },') + 1
    assert f"site.toml, a11y.login, line {line}: step 2 (fill #pnr-field-that-is-not-there <value>) failed" in output
