"""What the security layer's tests share: evidence as masked JSON, and the foreign site an attacker runs."""

from __future__ import annotations

import json

import allure

from harness.masking import mask

FOREIGN_ORIGIN = "https://angripare.example"
# Where an open redirect would send the user: every way of writing another site in a 'next' parameter.
FOREIGN_NEXT = ("https://angripare.example/", "//angripare.example/", "/\\angripare.example/",
                "https:angripare.example", "/%2F%2Fangripare.example/", "javascript:alert(1)")


def attach_json(name: str, body: object) -> None:
    allure.attach(mask(json.dumps(body, ensure_ascii=False, indent=1)), name=name,
                  attachment_type=allure.attachment_type.JSON)


def problems_text(problems: dict[str, list[str]]) -> str:
    """'where: problem; problem' per line, for an assertion message."""
    return "\n".join(f"{where}: {'; '.join(found)}" for where, found in problems.items() if found)
