"""What the backend knows about its providers: where they are, the CA to trust, and the credentials made at start."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa


@dataclass
class GatewayInfo:
    urls: dict[str, str]  # apns, fcm, sms, email, inspect
    ca_pem: Path
    apns_key: ec.EllipticCurvePrivateKey
    apns_key_id: str
    apns_team_id: str
    apns_topic: str
    fcm_key: rsa.RSAPrivateKey
    fcm_key_id: str
    fcm_project: str
    fcm_client_email: str
    fcm_token_uri: str
    sms_api_key: str
    email_api_key: str
    webhook_secret: str
    pid: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
