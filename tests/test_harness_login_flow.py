"""new_api_client logs persons in by --login-flow: the login page with PKCE as the app does, or the direct flow."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

PLUGINS = 'pytest_plugins = ["fixtures.target", "fixtures.sut", "fixtures.identities", "fixtures.api", ' \
          '"fixtures.evidence", "fixtures.report"]\n'
TESTS = """
def test_login(new_person, new_api_client, api_recorder, login_flow):
    client = new_api_client(new_person("adult"))
    assert client.get("/me").status_code == 200
    paths = [exchange.request.url.path for exchange in api_recorder.exchanges]
    used = "authorize" if "/idp/authorize" in paths else "direct" if "/idp/api/login" in paths else "none"
    assert used == login_flow, paths
"""


@pytest.mark.slow
@pytest.mark.parametrize("flow", ["direct", "authorize"])
def test_new_api_client_follows_the_login_flow(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                               flow: str) -> None:
    monkeypatch.delenv("HARNESS_TARGET", raising=False)
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(test_flow=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--login-flow={flow}", timeout=300)
    result.assert_outcomes(passed=1)
