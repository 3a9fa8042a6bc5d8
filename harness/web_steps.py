"""A target's own pages driven from data: the login and state steps of a target file's [a11y] table.

``run_steps(page, steps, values, web=...)`` runs each step in a Playwright page. A step acts on the first element
its selector matches (Playwright's selector syntax: CSS, ``text=``, ``data-testid=``, ``internal:label=``); a
``goto`` path is relative to the target's web URL. A step that cannot be done is a ``StepFailed`` that names the
step and its line in the target file, never the values filled in (a personnummer stays out of every message).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from harness.masking import mask
from harness.targets import Step

STEP_TIMEOUT_MS = 15_000


class StepFailed(RuntimeError):
    """A step of the target file could not be done on the target's page."""


def fill_in(text: str, values: Mapping[str, str]) -> str:
    """``{web}``, ``{login}`` and ``{personnummer}`` replaced by their values."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def run_steps(page: Any, steps: Iterable[Step], values: Mapping[str, str], *, where: str) -> None:
    """Run ``steps`` in ``page``; ``where`` names the file they come from, for the error."""
    from playwright.sync_api import Error as PlaywrightError  # the browser layers' dependency, not the harness's

    web = values.get("web", "").rstrip("/")
    for number, step in enumerate(steps, start=1):
        target = fill_in(step.target, values)
        try:
            if step.action == "goto":
                page.goto(f"{web}{target}" if target.startswith("/") else target, timeout=STEP_TIMEOUT_MS)
            elif step.action == "wait_for_url":
                page.wait_for_url(target, timeout=STEP_TIMEOUT_MS)
            else:
                element = page.locator(target).first
                if step.action == "fill":
                    element.fill(fill_in(step.value or "", values), timeout=STEP_TIMEOUT_MS)
                elif step.action == "press":
                    element.press(step.value or "", timeout=STEP_TIMEOUT_MS)
                elif step.action == "check":
                    element.check(timeout=STEP_TIMEOUT_MS)
                elif step.action == "click":
                    element.click(timeout=STEP_TIMEOUT_MS)
                else:
                    element.wait_for(timeout=STEP_TIMEOUT_MS)
        except PlaywrightError as exc:  # the step and where it is written, never the values filled in
            line = f", line {step.line}" if step.line else ""
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StepFailed(mask(f"{where}{line}: step {number} ({step.describe()}) failed on {page.url}: "
                                  f"{reason}")) from None
