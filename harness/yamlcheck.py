"""Checking a YAML data file key by key, with errors that name the file, the line and the key.

The device profiles (devices/profiles.yaml, read by harness/browser.py) and the device matrix
(devices/mobile.yaml, harness/mobile.py) share this reader; each passes the error class its callers catch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


class KeyLines:
    """Line numbers of the mapping keys in a YAML file, by key path."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*path, str(key.value))
                self.lines[here] = key.start_mark.line + 1
                self._walk(value, here)

    def of(self, path: tuple[str, ...]) -> int | None:
        """The line of ``path``, or of its nearest ancestor that is in the file."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def type_name(expected: Any) -> str:
    if isinstance(expected, tuple):
        return " or ".join(type_name(e) for e in expected)
    return {str: "a string", bool: "true or false", int: "an integer", float: "a number", dict: "a mapping",
            list: "a list"}.get(expected, getattr(expected, "__name__", str(expected)))


class YamlChecker:
    """Checks the parsed data of one file; every error is ``error_class("file, line N: key 'a.b': message")``."""

    def __init__(self, path: Path, text: str, error_class: type[ValueError]) -> None:
        try:
            self.display = str(path.resolve().relative_to(ROOT))
        except ValueError:
            self.display = str(path)
        self.lines = KeyLines(text)
        self.error_class = error_class

    def error(self, key: tuple[str, ...], message: str) -> ValueError:
        line = self.lines.of(key)
        where = f", line {line}" if line else ""
        return self.error_class(f"{self.display}{where}: key {'.'.join(key)!r}: {message}")

    def check(self, key: tuple[str, ...], value: Any, allowed: dict[str, Any]) -> None:
        """``value`` is a mapping whose keys are all in ``allowed``, each of its type (true/false is no number)."""
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {type_name(type(value))}")
        for name, item in value.items():
            expected = allowed.get(name)
            if expected is None:
                raise self.error((*key, str(name)), f"unknown key; known keys: {', '.join(sorted(allowed))}")
            wrong_bool = isinstance(item, bool) and expected is not bool
            if wrong_bool or not isinstance(item, expected):
                raise self.error((*key, str(name)),
                                 f"expected {type_name(expected)}, got {type_name(type(item))}")

    def choice(self, key: tuple[str, ...], value: Any, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.error(key, f"expected one of {', '.join(allowed)}, got {value!r}")
        return str(value)

    def names(self, key: tuple[str, ...], value: list[Any]) -> tuple[str, ...]:
        """Names of environment variables or programs."""
        for item in value:
            if not isinstance(item, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", item):
                raise self.error(key, f"expected names of environment variables or programs, got {item!r}")
        return tuple(value)
