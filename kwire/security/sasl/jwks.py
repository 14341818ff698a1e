"""Signature checks of OAUTHBEARER tokens against a JSON Web Key Set file
(`sasl.oauthbearer.jwks.endpoint.url` as a file: URL or path, read once).

`cryptography` is imported only here and only when a JWKS is configured,
so a broker without one never loads it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlparse

import attrs

from kwire.security.sasl.jwt import InvalidToken, Jws, b64url_decode

# JWS algorithm -> (key type, hash name, EC curve name or None).
ALGORITHMS = {
    "RS256": ("RSA", "SHA256", None),
    "RS384": ("RSA", "SHA384", None),
    "RS512": ("RSA", "SHA512", None),
    "PS256": ("RSA", "SHA256", None),
    "PS384": ("RSA", "SHA384", None),
    "PS512": ("RSA", "SHA512", None),
    "ES256": ("EC", "SHA256", "P-256"),
    "ES384": ("EC", "SHA384", "P-384"),
    "ES512": ("EC", "SHA512", "P-521"),
}
_CURVE_BYTES = {"P-256": 32, "P-384": 48, "P-521": 66}


class JwksError(ValueError):
    """The JWKS setting or file is unusable (one line, for a ConfigError)."""


@attrs.frozen
class Jwk:
    kid: str | None
    kty: str  # "RSA" or "EC"
    crv: str | None
    alg: str | None
    public_key: Any  # a cryptography RSAPublicKey / EllipticCurvePublicKey


def jwks_path(url: str) -> str:
    """The file a `sasl.oauthbearer.jwks.endpoint.url` names."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        raise JwksError("kwire reads JWKS from files only (a file: URL or a path), not over HTTP")
    if parsed.scheme == "file":
        return unquote(parsed.path)
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive
        raise JwksError(f"unsupported URL scheme {parsed.scheme!r} (kwire reads JWKS from files only)")
    return url


def load_jwks(url: str) -> tuple[Jwk, ...]:
    path = jwks_path(url)
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except OSError as error:
        raise JwksError(f"cannot read JWKS file {path}: {error.strerror or error}") from None
    except (ValueError, RecursionError):
        raise JwksError(f"JWKS file {path} is not JSON") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise JwksError(f'JWKS file {path} has no "keys" list')
    loaded = []
    for number, key in enumerate(keys, 1):
        if not isinstance(key, dict):
            raise JwksError(f"JWKS file {path}: key {number} is not a JSON object")
        if key.get("use", "sig") != "sig" or key.get("kty") not in ("RSA", "EC"):
            continue  # encryption keys and symmetric keys never verify a token here
        try:
            loaded.append(_jwk(key))
        except (InvalidToken, ValueError, TypeError, KeyError) as error:
            raise JwksError(f"JWKS file {path}: key {number} is invalid ({error})") from None
    if not loaded:
        raise JwksError(f"JWKS file {path} has no RSA or EC signature key")
    return tuple(loaded)


def _jwk(key: dict[str, Any]) -> Jwk:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def number(name: str) -> int:
        value = key[name]
        if not isinstance(value, str):
            raise ValueError(f"{name} is not a string")
        return int.from_bytes(b64url_decode(value), "big")

    kid = key.get("kid")
    alg = key.get("alg")
    if key["kty"] == "RSA":
        public: Any = rsa.RSAPublicNumbers(number("e"), number("n")).public_key()
        return Jwk(kid if isinstance(kid, str) else None, "RSA", None, alg if isinstance(alg, str) else None, public)
    curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
    crv = key.get("crv")
    if crv not in curves:
        raise ValueError(f"unsupported curve {crv!r}")
    public = ec.EllipticCurvePublicNumbers(number("x"), number("y"), curves[crv]).public_key()
    return Jwk(kid if isinstance(kid, str) else None, "EC", crv, alg if isinstance(alg, str) else None, public)


def verify_signature(jws: Jws, keys: tuple[Jwk, ...]) -> None:
    """Raise InvalidToken unless a key the header selects (`kid`, else any fitting the algorithm) signed the token."""
    alg = jws.header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise InvalidToken(f"JWS algorithm {alg!r} is not allowed (RS*, PS*, ES* only)")
    kty, hash_name, curve = ALGORITHMS[alg]
    kid = jws.header.get("kid")
    candidates = [
        key
        for key in keys
        if key.kty == kty
        and (curve is None or key.crv == curve)
        and key.alg in (None, alg)
        and (kid is None or key.kid == kid)
    ]
    if not candidates:
        raise InvalidToken(f"no key in the JWKS fits kid {kid!r} and algorithm {alg}")
    if not any(_verifies(key, alg, hash_name, jws) for key in candidates):
        raise InvalidToken("JWS signature is invalid")


def _verifies(key: Jwk, alg: str, hash_name: str, jws: Jws) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

    algorithm: Any = getattr(hashes, hash_name)()
    try:
        if alg.startswith("RS"):
            key.public_key.verify(jws.signature, jws.signing_input, padding.PKCS1v15(), algorithm)
        elif alg.startswith("PS"):
            pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)
            key.public_key.verify(jws.signature, jws.signing_input, pss, algorithm)
        else:
            size = _CURVE_BYTES[key.crv or ""]
            if len(jws.signature) != 2 * size:
                return False
            r = int.from_bytes(jws.signature[:size], "big")
            s = int.from_bytes(jws.signature[size:], "big")
            der = utils.encode_dss_signature(r, s)
            key.public_key.verify(der, jws.signing_input, ec.ECDSA(algorithm))
    except (InvalidSignature, ValueError):
        return False
    return True
