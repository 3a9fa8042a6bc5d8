"""Keys and tokens: an ES256 signing key made at start, access tokens as JWT, opaque secrets stored hashed."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from . import clock, faults

ISSUER = "urn:1177:sut:idp"
AUDIENCE = "urn:1177:sut:api"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """Secrets (refresh tokens, codes, tickets) are stored only as their SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class TokenError(Exception):
    """A token that is missing, malformed, expired, tampered with or unsigned."""


@dataclass
class Keys:
    """The signing key lives only in memory: each start makes a new one (no key is ever committed)."""

    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def mint(self, claims: dict[str, Any], ttl: int) -> str:
        now = clock.now()
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(now.timestamp()) + ttl,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        return jwt.encode(payload, self.private, algorithm="ES256", headers={"kid": self.kid})

    def verify(self, token: str) -> dict[str, Any]:
        # Only ES256 is accepted: 'alg: none' and HMAC-with-the-public-key confusions fail here.
        try:
            claims = jwt.decode(
                token,
                self.private.public_key(),
                algorithms=["ES256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Expiry is judged below against the system clock, which tests can move forward.
                options={"require": ["exp", "iat", "nbf", "sub", "sid"], "verify_exp": False, "verify_nbf": False,
                         "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(type(exc).__name__) from exc
        now = clock.now().timestamp()
        if not isinstance(claims["exp"], int) or claims["exp"] <= now:
            raise TokenError("ExpiredSignatureError")
        # Not before: a token minted for later (or by a clock far ahead) is no good yet; no leeway, one clock.
        early = claims["nbf"] > now if isinstance(claims["nbf"], int) else True
        if early and not faults.active("token-not-yet-valid-accepted"):
            raise TokenError("ImmatureSignatureError")
        return claims
