"""The signed bundle: verify passes on what was signed and names every changed, added or missing file; the key
comes from the environment or is ephemeral, and no private key is ever written; the whole bundle holds no
personnummer, token or secret (and the scan does find one that is planted)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from run_folders import TODAY, write_catalogue, write_registers, write_run

from harness import bundle, gate, oscal, traceability
from harness.__main__ import main, scan


@pytest.fixture
def signed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A traced, gated and signed synthetic run (ephemeral key)."""
    monkeypatch.delenv(bundle.KEY_ENV, raising=False)
    catalogue = write_catalogue(tmp_path / "catalogue")
    register = write_registers(tmp_path / "registers", catalogue)
    run = write_run(tmp_path / "reports", "20261202-100000-release")
    (run / "flipbooks").mkdir()
    (run / "flipbooks" / "login.png").write_bytes(bytes(range(256)) * 64)
    trace = traceability.trace_run(run, today=TODAY, pdf=False, catalogue=catalogue, register=register)
    oscal.write(run, trace)
    gate.write_verdict(run, gate.load_policy(), gate.evaluate(run, gate.load_policy()))
    assert main(["sign", str(run)]) == 0
    return run


def test_a_signed_bundle_verifies(signed: Path) -> None:
    problems, notes = bundle.verify(signed)
    assert any("proves the bundle is whole" in n for n in notes)
    assert problems == []
    manifest = json.loads((signed / bundle.MANIFEST).read_text())
    assert "gate.json" in manifest["files"] and "flipbooks/login.png" in manifest["files"]
    assert manifest["signing_key"]["source"] == "ephemeral"
    assert {"git_commit", "tools", "target", "faults", "devices", "seeds", "run_by"} <= set(manifest["context"])
    assert main(["verify", str(signed)]) == 0


def test_one_changed_byte_fails_verify_naming_the_file(signed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = signed / "flipbooks" / "login.png"
    data = bytearray(png.read_bytes())
    data[1000] ^= 0x01
    png.write_bytes(bytes(data))
    assert bundle.verify(signed)[0] == ["changed: flipbooks/login.png"]
    assert main(["verify", str(signed)]) == 1
    assert "changed: flipbooks/login.png" in capsys.readouterr().err


def test_an_added_and_a_removed_file_fail_verify(signed: Path) -> None:
    (signed / "a11y" / "extra.json").write_text("{}")
    (signed / "gate.json").unlink()
    assert bundle.verify(signed)[0] == ["added: a11y/extra.json", "missing: gate.json"]


def test_a_rewritten_manifest_or_envelope_fails_verify(signed: Path) -> None:
    manifest = signed / bundle.MANIFEST
    manifest.write_text(manifest.read_text().replace('"format": 1', '"format": 2'))
    assert any("not the manifest that was signed" in p for p in bundle.verify(signed)[0])
    # The signed payload itself rewritten (a file's hash made to match a changed file) breaks the signature.
    envelope = json.loads((signed / bundle.ENVELOPE).read_text())
    payload = base64.b64decode(envelope["payload"]).replace(b'"format": 1', b'"format": 2')
    envelope["payload"] = base64.b64encode(payload).decode()
    (signed / bundle.ENVELOPE).write_text(json.dumps(envelope))
    assert "does not verify" in bundle.verify(signed)[0][0]


def test_a_key_from_the_environment_signs_and_only_its_public_half_is_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = tmp_path / "release.pub.pem"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    run = write_run(tmp_path / "reports", "20261202-100000-release")
    monkeypatch.setenv(bundle.KEY_ENV, pem)
    assert bundle.sign(run)["signing_key"]["source"] == bundle.KEY_ENV
    assert bundle.verify(run, public)[0] == []
    other = tmp_path / "other.pub.pem"
    other.write_bytes(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert "does not verify" in bundle.verify(run, other)[0][0]
    for path in run.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes(), f"{path.name} holds a private key"


def test_an_unsigned_run_fails_verify(tmp_path: Path) -> None:
    run = write_run(tmp_path / "reports", "20261202-100000-release")
    assert bundle.verify(run)[0] == ["manifest.dsse.json: missing (the bundle was never signed)"]


def test_the_whole_bundle_holds_no_personnummer_token_or_secret(signed: Path) -> None:
    assert scan(signed) == []


@pytest.mark.parametrize(("planted", "what"), [
    ("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----", "private key"),
    ("aws_key AKIA" + "WXYZ" * 4, "AWS access key"),  # built from parts: no literal key in the file
    ('{"api_key": "k3y-0123456789abcdefXYZ"}', "API key or password"),
    ("token ghp_" + "a1B2c3D4e5" * 4, "GitHub token"),
    ("Authorization: Bearer abcdefghijklmnopqrstuvwx", "bearer token"),
])
def test_the_scan_finds_a_planted_secret(signed: Path, planted: str, what: str) -> None:
    (signed / "sut.log").write_text(f"started\n{planted}\n")
    assert [line for line in scan(signed) if what in line], f"the scan missed a {what}"


def _pdf(text: str) -> bytes:
    """A one-page PDF showing ``text``, with the cross-reference table every PDF has (ten-digit offsets)."""
    content = f"BT /F1 12 Tf 10 50 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_the_scan_reads_a_pdf_as_its_reader_sees_it(tmp_path: Path) -> None:
    (tmp_path / "clean.pdf").write_bytes(_pdf("Krav PDL-4-3: godkänt"))
    assert scan(tmp_path) == []
    (tmp_path / "leak.pdf").write_bytes(_pdf("Patient 19121212-1212"))
    assert scan(tmp_path) == ["leak.pdf: personnummer-like value at offset 9"]  # after the empty metadata line
