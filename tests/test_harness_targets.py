"""Target selection and target files: CLI, then HARNESS_TARGET, then ini, then local; broken files named."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import write_remote_target

from harness import targets
from harness.targets import MissingCredentialError, TargetError, load_target

pytest_plugins = ["pytester"]

PLUGINS = 'pytest_plugins = ["fixtures.target", "fixtures.sut", "fixtures.identities", "fixtures.api", ' \
          '"fixtures.evidence", "fixtures.report"]\n'
PROBE = """
def test_probe(target, target_choice):
    print(f"TARGET={target.name} SOURCE={target_choice.source}")
"""


@pytest.fixture
def harness_dir(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv(targets.ENV_VAR, raising=False)
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(test_probe=PROBE)
    return pytester


def test_default_target_is_local(harness_dir: pytest.Pytester) -> None:
    result = harness_dir.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["target: local (embedded reference system*chosen by default",
                                 "*TARGET=local SOURCE=default*"])


def test_environment_beats_ini_and_cli_beats_environment(harness_dir: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    other = write_remote_target(harness_dir.path / "qa.toml", sensitive=False)
    harness_dir.makeini(f"[pytest]\nharness_target = {other}\n")
    result = harness_dir.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*TARGET=qa SOURCE=ini harness_target*"])
    monkeypatch.setenv(targets.ENV_VAR, "local")
    result = harness_dir.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*TARGET=local SOURCE=HARNESS_TARGET*"])
    result = harness_dir.runpytest_subprocess("-s", "-p", "no:cacheprovider", f"--target={other}")
    result.stdout.fnmatch_lines(["target url mobile_api: https://api.test.1177.example*",
                                 "*TARGET=qa SOURCE=--target*"])
    result.assert_outcomes(passed=1)


def test_unknown_target_lists_the_known_ones(harness_dir: pytest.Pytester) -> None:
    result = harness_dir.runpytest_subprocess("--target", "nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown target 'nowhere'; known targets: local, staging*"])


def test_broken_target_file_names_file_key_and_line(harness_dir: pytest.Pytester) -> None:
    broken = write_remote_target(harness_dir.path / "broken.toml", extra="\n[embedded]\nstart_timeout = \"soon\"\n")
    result = harness_dir.runpytest_subprocess("--target", str(broken))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = broken.read_text().splitlines().index('start_timeout = "soon"') + 1
    result.stderr.fnmatch_lines([f"*broken.toml, line {line}: key 'embedded.start_timeout': expected an integer or "
                                 "a number, got a string*"])


def test_toml_syntax_error_names_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\nkind = "remote"\nsensitive = yes\n', encoding="utf-8")
    with pytest.raises(TargetError, match=r"bad\.toml, line 3: key 'sensitive': not valid TOML"):
        load_target(path)


@pytest.mark.parametrize(("extra", "key", "line_text"), [
    ('colour = "blue"\n', "urls.colour", 'colour = "blue"'),
    ('[persons.adult]\npersonnummer = 199001019803\n', "persons.adult.personnummer", "personnummer = 199001019803"),
    ('[persons.grandparent]\npersonnummer = { env = "X" }\n', "persons.grandparent", "[persons.grandparent]"),
])
def test_semantic_errors_name_key_and_line(tmp_path: Path, extra: str, key: str, line_text: str) -> None:
    path = write_remote_target(tmp_path / "t.toml", extra=extra)
    line = path.read_text().splitlines().index(line_text) + 1
    with pytest.raises(TargetError) as caught:
        load_target(path)
    assert f"t.toml, line {line}: key '{key}'" in str(caught.value)


def test_missing_credential_fails_fast_naming_the_variable(harness_dir: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_TEST_IDP_SECRET", raising=False)
    path = write_remote_target(harness_dir.path / "secretive.toml",
                   extra='[credentials]\nidp_client_secret = { env = "HARNESS_TEST_IDP_SECRET" }\n')
    result = harness_dir.runpytest_subprocess("--target", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*credentials.idp_client_secret needs the environment variable "
                                 "HARNESS_TEST_IDP_SECRET, which is not set*"])
    with pytest.raises(MissingCredentialError):
        load_target(path).check_credentials({})
    load_target(path).check_credentials({"HARNESS_TEST_IDP_SECRET": "x"})


def test_shipped_target_files_load() -> None:
    local = targets.resolve_target("local")
    assert local.is_embedded and not local.sensitive
    staging = targets.resolve_target("staging")
    assert staging.sensitive and staging.kind == "remote"
    assert {ref.env for ref in staging.secret_refs()} >= {"HARNESS_STAGING_IDP_CLIENT_SECRET"}
    assert all(url.startswith("https://") and ".example" in url for url in staging.urls.values())


def test_sut_faults_are_checked_against_the_catalogue(harness_dir: pytest.Pytester) -> None:
    result = harness_dir.runpytest_subprocess("--sut-faults", "idor-message,not-a-fault")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--sut-faults: unknown fault(s): not-a-fault; known faults:*"])


A11Y_PERSON = '[persons.adult]\npersonnummer = { env = "X" }\n'
A11Y_LOGIN = '[a11y]\nlogin = [\n    { goto = "{web}/login" },\n    { fill = "#pnr", value = "{personnummer}" },\n]\n'


@pytest.mark.parametrize(("extra", "line_text", "message"), [
    (A11Y_LOGIN + '[[a11y.states]]\nname = "a"\nentries = ["/"]\n[[a11y.states]]\nname = "b"\nentries = "/"\n',
     'entries = "/"', "key 'a11y.states[1].entries': expected an array"),
    (A11Y_LOGIN + '[[a11y.states]]\nname = "inloggad"\nperson = "adult"\nentries = ["/"]\n',
     'person = "adult"', "no test person of role 'adult': add [persons.adult]"),
    (A11Y_PERSON + '[[a11y.states]]\nname = "inloggad"\nperson = "adult"\nentries = ["/"]\n',
     'person = "adult"', "needs the login page's steps in a11y.login"),
    (A11Y_PERSON + '[a11y]\nlogin = [\n    { goto = "/" },\n    { fill = "#pnr" },\n]\n',
     '    { fill = "#pnr" },', "key 'a11y.login', step 2: fill needs 'value'"),
    (A11Y_PERSON + '[a11y]\nlogin = [\n    { goto = "/", click = "a" },\n]\n',
     '    { goto = "/", click = "a" },', "step 1: expected exactly one action"),
    (A11Y_PERSON + '[a11y]\nlogin = [\n    { fill = "#pnr", value = "{pnr}" },\n]\n',
     '    { fill = "#pnr", value = "{pnr}" },', "step 1: value: unknown placeholder {pnr}"),
    ('[a11y]\nskip = "(unclosed"\n', 'skip = "(unclosed"', "key 'a11y.skip': not a regular expression"),
    ('[[a11y.states]]\nname = "Utloggad sida"\nentries = ["/"]\n', 'name = "Utloggad sida"',
     "key 'a11y.states[0].name': expected a short name"),
    ('[[a11y.states]]\nname = "a"\nentries = ["/"]\nsteps = [\n    { goto = "/x" },\n    { hover = "a" },\n]\n',
     '    { hover = "a" },', "key 'a11y.states[0].steps', step 2: expected exactly one action"),
])
def test_a11y_table_errors_name_key_and_line(tmp_path: Path, extra: str, line_text: str, message: str) -> None:
    path = write_remote_target(tmp_path / "t.toml", extra=extra)
    line = path.read_text().splitlines().index(line_text) + 1
    with pytest.raises(TargetError) as caught:
        load_target(path)
    assert f"t.toml, line {line}: " in str(caught.value) and message in str(caught.value), str(caught.value)


def test_audit_states_are_data_of_the_target() -> None:
    local = targets.resolve_target("local").a11y
    assert [s.name for s in local.states] == ["utloggad", "inloggad", "ombud", "ej-ansluten", "felsidor"]
    assert not local.login, "the reference system's login page is known to the harness"
    ombud = local.states[2]
    assert ombud.person == "guardian" and [s.action for s in ombud.steps] == ["goto", "check", "click", "wait_for"]
    staging = targets.resolve_target("staging").a11y
    assert staging.login and all(s.person is None or s.person in targets.resolve_target("staging").persons
                                 for s in staging.states)
    fill = next(s for s in staging.login if s.action == "fill")
    assert fill.value == "{personnummer}" and "<value>" in fill.describe() and "{personnummer}" not in fill.describe()
