"""The signed evidence bundle: manifest.json (SHA-256 of every file of reports/<run>/ and the run's context), signed
as a DSSE envelope (securesystemslib), and its check.

The key comes from the environment (HARNESS_SIGNING_KEY: a PEM private key, or the path of one; its password in
HARNESS_SIGNING_KEY_PASSWORD); without one an ephemeral Ed25519 key is made for the run. Either way only the public
key goes into the bundle (manifest.pub.pem): a private key is never written. Checked with the bundle's own public
key, verify proves the bundle is whole; with ``--key`` (the release key's public half) it also proves who signed it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import evidence

MANIFEST, ENVELOPE, PUBLIC_KEY = "manifest.json", "manifest.dsse.json", "manifest.pub.pem"
BUNDLE_FILES = (MANIFEST, ENVELOPE, PUBLIC_KEY)  # what signing adds: outside the manifest's own list
PAYLOAD_TYPE = "application/vnd.app1177-harness.manifest+json"
KEY_ENV, PASSWORD_ENV = "HARNESS_SIGNING_KEY", "HARNESS_SIGNING_KEY_PASSWORD"  # the variables, not the key
FORMAT_VERSION = 1
TOOLS = ("pytest", "allure-pytest", "schemathesis", "hypothesis", "playwright", "axe-playwright-python",
         "appium-python-client", "locust", "bandit", "cyclonedx-bom", "pip-audit", "compliance-trestle",
         "securesystemslib", "httpx", "fastapi", "app1177-harness")
# Who ran it: the first of these the environment sets (CI systems first, then the local user).
RUNNER_VARS = ("HARNESS_RUN_BY", "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILD_USER_ID", "USER", "LOGNAME")


class BundleError(RuntimeError):
    """The bundle cannot be signed or read; the message says what is missing."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_hashes(run_dir: Path) -> dict[str, dict[str, Any]]:
    """relative path -> {sha256, size} for every file; a symbolic link is recorded by its target, not followed."""
    found: dict[str, dict[str, Any]] = {}
    for folder, dirs, files in os.walk(run_dir, followlinks=False):
        base = Path(folder)
        for name in sorted(files) + sorted(d for d in dirs if (base / d).is_symlink()):
            path = base / name
            rel = path.relative_to(run_dir).as_posix()
            if rel in BUNDLE_FILES:
                continue
            if path.is_symlink():
                found[rel] = {"link": os.readlink(path)}
            else:
                found[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    return dict(sorted(found.items()))


def _environment_properties(run_dir: Path) -> dict[str, str]:
    path = run_dir / "allure-results" / "environment.properties"
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.replace("\\", "")] = value.replace("\\:", ":").replace("\\=", "=").replace("\\\\", "\\")
    return values


def _devices(run_dir: Path) -> dict[str, Any]:
    """The device matrix: the profile files as they were (by hash) and the profiles the run's tests named."""
    used: set[str] = set()
    for path in (run_dir / "allure-results").glob("*-result.json"):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        for param in result.get("parameters", []):
            if param.get("name") in ("profile_name", "device", "profile", "device_name"):
                used.add(str(param.get("value", "")).strip("'\""))
    files = {p.name: sha256_file(p) for p in sorted((evidence.ROOT / "devices").glob("*.yaml"))}
    return {"files": files, "profiles_run": sorted(used)}


def context(run_dir: Path) -> dict[str, Any]:
    """What the run was: commit, tools, target, faults, layers, device matrix, seeds, who ran it and where."""
    run: dict[str, Any] = {}
    if (run_dir / "requirements.json").is_file():
        run = json.loads((run_dir / "requirements.json").read_text(encoding="utf-8"))
    env = _environment_properties(run_dir)
    tools = evidence.versions(TOOLS)
    allure_pkg = evidence.ROOT / "node_modules" / "allure" / "package.json"
    if allure_pkg.is_file():
        tools["allure"] = json.loads(allure_pkg.read_text(encoding="utf-8")).get("version", "?")
    runner = next((f"{var}={os.environ[var]}" for var in RUNNER_VARS if os.environ.get(var)), "unknown")
    return {
        "run": run_dir.name, "git_commit": evidence.git_commit(), "tools": tools,
        "target": run.get("target") or env.get("target"), "target_urls": {
            k.removeprefix("target.url."): v for k, v in env.items() if k.startswith("target.url.")},
        "faults": run.get("faults", []), "layers": run.get("layers", []), "exit_status": run.get("exit_status"),
        "devices": _devices(run_dir),
        "seeds": {k: v for k, v in env.items() if k in ("fuzz.seed", "fuzz.budget")},
        "executor": os.environ.get("HARNESS_EXECUTOR", "unknown"), "run_by": runner,
        "host": platform.node(), "ci": bool(os.environ.get("CI")),
    }


def manifest(run_dir: Path) -> dict[str, Any]:
    files = file_hashes(run_dir)
    return {"format": FORMAT_VERSION, "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "context": context(run_dir), "files": files,
            "totals": {"files": len(files), "bytes": sum(f.get("size", 0) for f in files.values())}}


def _signer() -> tuple[Any, Any, str]:
    """A signer from HARNESS_SIGNING_KEY, or an ephemeral Ed25519 one; its public key; where the key came from."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from securesystemslib.signer import CryptoSigner

    value = os.environ.get(KEY_ENV, "").strip()
    if not value:
        key: Any = ed25519.Ed25519PrivateKey.generate()  # lives in memory only, for this signature
        return CryptoSigner(key), key.public_key(), "ephemeral"
    pem = value.encode() if value.startswith("-----BEGIN") else Path(value).read_bytes()
    password = os.environ.get(PASSWORD_ENV)
    try:
        key = load_pem_private_key(pem, password.encode() if password else None)
        return CryptoSigner(key), key.public_key(), KEY_ENV
    except (ValueError, TypeError) as exc:
        raise BundleError(f"{KEY_ENV} holds no usable PEM private key: {exc}") from None


def sign(run_dir: Path) -> dict[str, Any]:
    """Write manifest.json, its DSSE envelope and the public key into the run folder; return the manifest."""
    from cryptography.hazmat.primitives import serialization
    from securesystemslib.dsse import Envelope

    signer, public, source = _signer()
    data = manifest(run_dir)
    data["signing_key"] = {"keyid": signer.public_key.keyid, "source": source}
    payload = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
    envelope = Envelope(payload, PAYLOAD_TYPE, {})
    envelope.sign(signer)
    (run_dir / MANIFEST).write_bytes(payload)
    (run_dir / ENVELOPE).write_text(json.dumps(envelope.to_dict(), indent=1), encoding="utf-8")
    (run_dir / PUBLIC_KEY).write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo))
    return data


def public_key_from_pem(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.signer import SSlibKey

    try:
        return SSlibKey.from_crypto(load_pem_public_key(pem))
    except (ValueError, TypeError, Exception) as exc:  # noqa: BLE001 # securesystemslib raises its own types too
        raise BundleError(f"not a usable PEM public key: {exc}") from None


def verify(run_dir: Path, key: Path | None = None) -> tuple[list[str], list[str]]:
    """(problems, notes): the signature and every file's hash; each changed, added or missing file is named."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import VerificationError

    problems: list[str] = []
    notes: list[str] = []
    for name in (ENVELOPE, MANIFEST):
        if not (run_dir / name).is_file():
            return [f"{name}: missing (the bundle was never signed)"], notes
    try:
        envelope = Envelope.from_dict(json.loads((run_dir / ENVELOPE).read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{ENVELOPE}: not a DSSE envelope: {exc}"], notes
    if key is not None:
        public = public_key_from_pem(key.read_bytes())
        notes.append(f"key: {key.name} (keyid {public.keyid[:16]}): proves who signed the bundle")
    elif (run_dir / PUBLIC_KEY).is_file():
        public = public_key_from_pem((run_dir / PUBLIC_KEY).read_bytes())
        notes.append(f"key: the bundle's own {PUBLIC_KEY} (keyid {public.keyid[:16]}): proves the bundle is whole, "
                     "not who made it; give --key to check the signer")
    else:
        return [f"{PUBLIC_KEY}: missing, and no --key given"], notes
    try:
        envelope.verify([public], 1)
    except VerificationError as exc:
        return [f"{ENVELOPE}: the signature does not verify with that key ({exc})"], notes
    if envelope.payload_type != PAYLOAD_TYPE:
        problems.append(f"{ENVELOPE}: payload type {envelope.payload_type!r}, expected {PAYLOAD_TYPE!r}")
    if (run_dir / MANIFEST).read_bytes() != envelope.payload:
        problems.append(f"{MANIFEST}: changed: it is not the manifest that was signed")
    signed = json.loads(envelope.payload)
    expected: dict[str, dict[str, Any]] = signed["files"]
    actual = file_hashes(run_dir)
    for rel in sorted(set(expected) | set(actual)):
        if rel not in actual:
            problems.append(f"missing: {rel}")
        elif rel not in expected:
            problems.append(f"added: {rel}")
        elif actual[rel] != expected[rel]:
            problems.append(f"changed: {rel}")
    notes.append(f"{len(expected)} files in the manifest, {sum(f.get('size', 0) for f in expected.values()):,} "
                 "bytes")
    return problems, notes
