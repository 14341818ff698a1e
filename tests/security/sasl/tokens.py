"""JWTs for the OAUTHBEARER tests: unsecured ones, and ones signed with RSA and EC keys, with their JWKS."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
CURVES = {
    "ES256": (ec.SECP256R1, "P-256", 32),
    "ES384": (ec.SECP384R1, "P-384", 48),
    "ES512": (ec.SECP521R1, "P-521", 66),
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(value: dict) -> str:
    return b64(json.dumps(value).encode())


def unsecured(claims: dict, header: dict | None = None) -> str:
    return f"{part(header or {'alg': 'none'})}.{part(claims)}."


def initial_response(token: str, authzid: str = "", extensions: str = "") -> bytes:
    authz = f"a={authzid}" if authzid else ""
    return f"n,{authz},\x01auth=Bearer {token}{extensions}\x01\x01".encode()


def _uint(number: int, size: int | None = None) -> str:
    return b64(number.to_bytes(size or (number.bit_length() + 7) // 8, "big"))


class SigningKey:
    def __init__(self, alg: str, kid: str) -> None:
        self.alg, self.kid = alg, kid
        if alg.startswith("ES"):
            curve, self.crv, self.size = CURVES[alg]
            self.private = ec.generate_private_key(curve())
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict:
        numbers = self.private.public_key().public_numbers()
        if self.alg.startswith("ES"):
            return {
                "kty": "EC",
                "kid": self.kid,
                "use": "sig",
                "crv": self.crv,
                "x": _uint(numbers.x, self.size),
                "y": _uint(numbers.y, self.size),
            }
        return {"kty": "RSA", "kid": self.kid, "use": "sig", "n": _uint(numbers.n), "e": _uint(numbers.e)}

    def sign(self, claims: dict, header: dict | None = None, alg: str | None = None) -> str:
        alg = alg or self.alg
        head = {"alg": alg, "kid": self.kid, "typ": "JWT"} if header is None else header
        signing_input = f"{part(head)}.{part(claims)}".encode()
        algorithm = HASHES[alg[2:]]()
        if alg.startswith("ES"):
            r, s = utils.decode_dss_signature(self.private.sign(signing_input, ec.ECDSA(algorithm)))
            signature = r.to_bytes(self.size, "big") + s.to_bytes(self.size, "big")
        elif alg.startswith("PS"):
            pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)
            signature = self.private.sign(signing_input, pss, algorithm)
        else:
            signature = self.private.sign(signing_input, padding.PKCS1v15(), algorithm)
        return f"{signing_input.decode()}.{b64(signature)}"
