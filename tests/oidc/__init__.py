"""A real OpenID provider for tests: oidc-provider (Node) on a loopback port, see provider.mjs.

Its signing keys are ours, written to a file it reads, so that tests can rotate them while it runs
and sign tokens of their own with the very key the provider signs with.
"""

import base64
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

HERE = Path(__file__).parent
SCRIPT = HERE / "provider.mjs"
AUDIENCE = "urn:ai-readiness"
OTHER_AUDIENCE = "urn:other"
START_TIMEOUT_SECONDS = 20.0


def new_rsa_key(kid: str | None = None) -> dict[str, Any]:
    """A private RSA JWK, as oidc-provider takes it in its `jwks`."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # PyJWT adds key_ops ["sign"], which the provider would publish as is.
    jwk = {name: value for name, value in RSAAlgorithm.to_jwk(private, as_dict=True).items() if name != "key_ops"}
    return {**jwk, "kid": kid or f"key-{uuid.uuid4().hex[:8]}", "alg": "RS256", "use": "sig"}


def public(jwk: dict[str, Any]) -> dict[str, Any]:
    return {name: jwk[name] for name in ("kty", "kid", "alg", "use", "n", "e")}


def sign(claims: dict[str, Any], key: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
    """A token signed with a private JWK, with the header oidc-provider gives its access tokens."""
    header = {"kid": key["kid"], "typ": "at+jwt", **(headers or {})}
    # PyJWT leaves out a typ of None but refuses a kid of None; both mean "no such header".
    header = {name: value for name, value in header.items() if value is not None or name == "typ"}
    return jwt.encode(claims, jwt.PyJWK(key, algorithm="RS256"), algorithm="RS256", headers=header)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OidcProvider:
    """One oidc-provider process; each client's secret is `<client_id>-secret`."""

    def __init__(self, directory: Path, port: int | None = None, *, redirect_uris: list[str] | None = None) -> None:
        """`redirect_uris`: the dashboard's sign-in clients get these, and the provider's login pages are on."""
        self.port = port or free_port()
        self.redirect_uris = redirect_uris or []
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        self.keys_file = directory / f"keys-{self.port}.json"
        self.log_file = directory / f"provider-{self.port}.log"
        self.keys = [new_rsa_key()]
        self.signing_key = self.keys[0]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not (HERE / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError(f"oidc-provider is not installed: run `npm ci --prefix {HERE}` (make test does)")
        self._write_keys()
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                ["node", str(SCRIPT), str(self.port)],
                cwd=HERE,
                env={
                    **os.environ,
                    "OIDC_KEYS_FILE": str(self.keys_file),
                    "OIDC_REDIRECT_URIS": ",".join(self.redirect_uris),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the OpenID provider did not start:\n{self.log_file.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def token(self, client_id: str, resource: str | None = None) -> str:
        """An access token by the client credentials grant, for `resource` or the service."""
        data = {"grant_type": "client_credentials"}
        if resource is not None:
            data["resource"] = resource
        response = httpx.post(f"{self.issuer}/token", data=data, auth=(client_id, f"{client_id}-secret"))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def claims(self, client_id: str = "reader", **overrides: Any) -> dict[str, Any]:
        """Claims like those of the provider's own tokens, valid for five minutes."""
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": AUDIENCE, "sub": client_id, "client_id": client_id}
        return {**claims, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex, **overrides}

    def sign(self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
        """A token signed with the key the provider signs with now."""
        return sign(claims, self.signing_key, headers=headers)

    def rotate(self) -> dict[str, Any]:
        """Sign with a new key from now on, the old ones still published; returns the new key."""
        key = new_rsa_key()
        self.publish([key, *self.keys], signing=key)
        return key

    def retire_all_but(self, key: dict[str, Any]) -> None:
        self.publish([key], signing=key)

    def publish(self, keys: list[dict[str, Any]], *, signing: dict[str, Any]) -> None:
        """Have the running provider serve these keys and sign with `signing`; no restart, same port."""
        assert self.process is not None
        self.keys, self.signing_key = keys, signing
        self._write_keys()
        self.process.send_signal(signal.SIGHUP)
        wanted = [key["kid"] for key in keys]
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while [key["kid"] for key in self.published()] != wanted:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the OpenID provider did not take the new keys:\n{self.log_file.read_text()}")
            time.sleep(0.02)

    def published(self) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = httpx.get(f"{self.issuer}/jwks").json()["keys"]
        return keys

    def _write_keys(self) -> None:
        # Written whole and renamed, so that the provider never reads half a file.
        scratch = self.keys_file.with_suffix(".tmp")
        scratch.write_text(json.dumps({"keys": self.keys, "signing_kid": self.signing_key["kid"]}))
        scratch.replace(self.keys_file)

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
