"""An OpenID provider whose token endpoint answers what the test tells it to, for the ID tokens a
real provider cannot be made to issue (a wrong nonce, another audience, `alg: none`...).

It serves a discovery document, its keys (ours, so that tests sign with them) and a token endpoint
over real HTTP on a loopback port, and records every token request it gets.
"""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.oidc import new_rsa_key, public, sign


@dataclass
class TokenRequest:
    form: dict[str, str]
    authorization: str | None


@dataclass
class ScriptedProvider:
    issuer: str = ""
    key: dict[str, Any] = field(default_factory=new_rsa_key)
    # What the token endpoint answers next: a status and a JSON body.
    answer: tuple[int, dict[str, Any]] = (500, {})
    requests: list[TokenRequest] = field(default_factory=list)
    # Whether its discovery document says that every authorization response names the issuer (RFC 9207).
    names_itself: bool = False

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize?tenant=acme",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": self.names_itself,
        }

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """An ID token's claims for the dashboard's client, valid for five minutes."""
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": "dashboard", "sub": "ana", "iat": now, "exp": now + 300}
        return {**claims, "jti": uuid.uuid4().hex, **overrides}

    def id_token(self, claims: dict[str, Any], *, key: dict[str, Any] | None = None) -> str:
        return sign(claims, key or self.key, headers={"typ": "JWT"})

    def answer_with(self, id_token: str) -> None:
        self.answer = (200, {"access_token": "opaque", "token_type": "Bearer", "id_token": id_token})


def _handler(provider: ScriptedProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            if self.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif self.path == "/jwks":
                self._json(200, {"keys": [public(provider.key)]})
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
            provider.requests.append(TokenRequest(form=form, authorization=self.headers.get("Authorization")))
            self._json(*provider.answer)

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            """Quiet: the test says what went wrong."""

    return Handler


@contextmanager
def scripted_provider() -> Iterator[ScriptedProvider]:
    provider = ScriptedProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
