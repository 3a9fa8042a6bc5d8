"""Sessions of the 1177 app release harness. ``nox -l`` lists them; posargs go through to the tool."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "selftest"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON = "3.11"


def _install(session: nox.Session, *groups: str) -> None:
    """The project (its run-time dependencies) plus dependency groups from pyproject.toml."""
    session.install("-e", ".")
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


@nox.session(python=PYTHON)
def selftest(session: nox.Session) -> None:
    """The project's own tests: harness/, fixtures/ and the reference system in sut/."""
    _install(session, "test")
    session.run("pytest", "-n", "2", "--dist", "loadgroup", *session.posargs)


@nox.session(python=PYTHON, default=False)
def sut(session: nox.Session) -> None:
    """Run the reference system in the foreground (test mode; Ctrl+C stops it)."""
    _install(session)
    session.run("python", "-m", "sut", "--test-mode", "--log-level", "INFO", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the whole project."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".", *session.posargs)
