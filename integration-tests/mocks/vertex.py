"""Mocks of Vertex AI and of Google's OAuth 2.0 token endpoint.

:class:`GoogleOAuthMock` is a service account's ``token_uri``: ``POST /token``
with ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>``
(RFC 7523, Google's server-to-server flow). It checks the assertion as Google
does: an RS256 JWT whose signature verifies with the account's public key (derived
here from the test key), ``iss`` the account's email, ``aud`` this token URI,
``scope`` ``https://www.googleapis.com/auth/cloud-platform``, ``iat``/``exp`` now
and at most an hour later; anything else is ``400 {"error": "invalid_grant",
"error_description": …}``. It answers ``{"access_token", "expires_in",
"token_type": "Bearer"}`` and remembers each token and its expiry.

:class:`VertexMock` serves
``/v1/projects/{project}/locations/{location}/publishers/{google|anthropic}/models/{model}:{method}``
and accepts only ``Authorization: Bearer <token>`` with a token the OAuth mock
issued and that has not expired (else Google's ``401 UNAUTHENTICATED``), for its
own project and location (else ``403 PERMISSION_DENIED``). Google's models answer
as :class:`~mocks.gemini.GeminiMock` does (``generateContent``,
``streamGenerateContent``) and ``predict`` embeds (``instances`` → ``predictions``);
Claude (``rawPredict``, ``streamRawPredict``) answers as
:class:`~mocks.anthropic.AnthropicMock` does, after checking the Vertex shape: no
``model`` in the body, ``anthropic_version: "vertex-2023-10-16"``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import urllib.parse
from typing import Any, Iterable

from .anthropic import AnthropicMock, _anthropic_error
from .base import (
    JsonResponse,
    MockProvider,
    RecordedRequest,
    StreamResponse,
    _embedding,
    _is_int,
    _words,
)
from .gemini import GeminiMock, _fields, _GoogleInvalid, google_error

__all__ = ["GoogleOAuthMock", "VertexMock", "rsa_public_numbers"]

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ANTHROPIC_VERTEX_VERSION = "vertex-2023-10-16"
# DigestInfo prefix of SHA-256 in an RSASSA-PKCS1-v1_5 signature (RFC 8017 §9.2).
_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


# -- a small DER reader, enough for an RSA PKCS#8 key -------------------------------------

def _der(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, content, next offset) of the DER element at ``at``."""
    tag = data[at]
    length = data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[at:at + count], "big")
        at += count
    return tag, data[at:at + length], at + length


def _sequence(content: bytes) -> list[tuple[int, bytes]]:
    out, at = [], 0
    while at < len(content):
        tag, value, at = _der(content, at)
        out.append((tag, value))
    return out


def rsa_public_numbers(pem: str) -> tuple[int, int]:
    """(n, e) of an RSA private key in PKCS#8 PEM (``BEGIN PRIVATE KEY``)."""
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body)
    _, info, _ = _der(der, 0)  # PrivateKeyInfo
    fields = _sequence(info)  # version, algorithm, privateKey (OCTET STRING)
    _, rsa_key, _ = _der(fields[2][1], 0)  # RSAPrivateKey
    numbers = _sequence(rsa_key)  # version, n, e, d, …
    return int.from_bytes(numbers[1][1], "big"), int.from_bytes(numbers[2][1], "big")


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_rs256(signed: bytes, signature: bytes, n: int, e: int) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2.2)."""
    size = (n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    em = pow(int.from_bytes(signature, "big"), e, n).to_bytes(size, "big")
    digest_info = _SHA256_PREFIX + hashlib.sha256(signed).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    return em == expected


class GoogleOAuthMock(MockProvider):
    """A service account's token endpoint (see the module doc)."""

    name = "oauth"

    def __init__(self, client_email: str, private_key_pem: str, *, path: str = "/token",
                 expires_in: int = 3599):
        super().__init__()
        self.client_email = client_email
        self.n, self.e = rsa_public_numbers(private_key_pem)
        self.path = path
        #: ``expires_in`` of the next tokens.
        self.expires_in = expires_in
        self._tokens: dict[str, float] = {}
        self._token_lock = threading.Lock()

    @property
    def token_uri(self) -> str:
        return self.root_url + self.path

    @property
    def tokens_issued(self) -> int:
        with self._token_lock:
            return len(self._tokens)

    def token_valid(self, token: str) -> bool:
        with self._token_lock:
            expiry = self._tokens.get(token)
        return expiry is not None and time.time() < expiry

    def error_body(self, status: int) -> Any:
        return {"error": "internal_failure" if status < 500 else "temporarily_unavailable",
                "error_description": f"Mock fault with status {status}."}

    def stream_error_event(self, body: Any) -> bytes:
        return b""

    @staticmethod
    def _grant_error(description: str) -> JsonResponse:
        return JsonResponse(400, {"error": "invalid_grant", "error_description": description})

    def handle(self, req: RecordedRequest) -> JsonResponse:
        if req.method != "POST" or req.path != self.path:
            return JsonResponse(404, {"error": "not_found", "error_description": "Not Found"})
        if (req.header("content-type") or "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return JsonResponse(400, {"error": "invalid_request",
                                      "error_description": "Unsupported content type"})
        form = urllib.parse.parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        if form.get("grant_type") != [GRANT_TYPE]:
            return JsonResponse(400, {"error": "unsupported_grant_type",
                                      "error_description": "Invalid grant_type: " + ",".join(form.get("grant_type", []))})
        assertion = (form.get("assertion") or [""])[0]
        parts = assertion.split(".")
        if len(parts) != 3:
            return self._grant_error("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
        try:
            header = json.loads(_b64url(parts[0]))
            claims = json.loads(_b64url(parts[1]))
            signature = _b64url(parts[2])
        except (ValueError, json.JSONDecodeError):
            return self._grant_error("Invalid JWT Signature.")
        if header.get("alg") != "RS256" or header.get("typ", "JWT") != "JWT":
            return self._grant_error("Invalid JWT Signature.")
        if not verify_rs256(f"{parts[0]}.{parts[1]}".encode(), signature, self.n, self.e):
            return self._grant_error("Invalid JWT Signature.")
        if claims.get("iss") != self.client_email:
            return self._grant_error("Invalid JWT: iss does not name a known service account.")
        if claims.get("aud") != self.token_uri:
            return self._grant_error("Invalid JWT: aud must be the token endpoint.")
        if claims.get("scope") != SCOPE:
            return JsonResponse(400, {"error": "invalid_scope",
                                      "error_description": f"Invalid OAuth scope: {claims.get('scope')}"})
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not (_is_int(iat) and _is_int(exp)) or abs(iat - now) > 300 or not 0 < exp - iat <= 3600:
            return self._grant_error("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
        token = f"ya29.mock-{self._next_id():04d}"
        with self._token_lock:
            self._tokens[token] = now + self.expires_in
        return JsonResponse(200, {"access_token": token, "expires_in": self.expires_in,
                                  "token_type": "Bearer"})


_VERTEX_ROUTE = re.compile(
    r"^/v1/projects/([^/]+)/locations/([^/]+)/publishers/(google|anthropic)/models/([^/:]+):([A-Za-z]+)$")


class VertexMock(GeminiMock):
    """Vertex AI for one project and location (see the module doc)."""

    name = "vertex"
    version = "/v1"

    def __init__(self, oauth: GoogleOAuthMock, project: str, location: str,
                 models: Iterable[str] | None = None):
        super().__init__(api_key="", models=models)
        self.oauth = oauth
        self.project = project
        self.location = location
        self.claude = AnthropicMock(api_key="")
        self.claude.name = "claude-on-vertex"

    def auth_error(self, req: RecordedRequest) -> JsonResponse | None:
        auth = req.header("authorization") or ""
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if token is None or not self.oauth.token_valid(token) or req.header("x-goog-api-key"):
            return JsonResponse(401, google_error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED"
                  if token is None else "ACCESS_TOKEN_EXPIRED", "domain": "googleapis.com"}],
            ))
        return None

    def handle(self, req: RecordedRequest) -> JsonResponse | StreamResponse:
        m = _VERTEX_ROUTE.match(req.path)
        if m is None or req.method != "POST":
            return self.not_found(req)
        project, location, publisher, model, method = m.groups()
        denied = self.auth_error(req)
        if denied is not None:
            return denied
        if (project, location) != (self.project, self.location):
            return JsonResponse(403, google_error(
                403, f"Permission 'aiplatform.endpoints.predict' denied on resource "
                     f"'//aiplatform.googleapis.com/projects/{project}/locations/{location}/publishers/"
                     f"{publisher}/models/{model}' (or it may not exist)."))
        if self.models is not None and model not in self.models:
            return JsonResponse(404, google_error(
                404, f"Publisher Model `projects/{project}/locations/{location}/publishers/{publisher}/"
                     f"models/{model}` not found."))
        if req.json is None:
            return JsonResponse(400, google_error(400, "Invalid JSON payload received."))
        try:
            if publisher == "anthropic":
                return self._claude(req, model, method)
            if method in ("generateContent", "streamGenerateContent"):
                return self._generate(req, model, method)
            if method == "predict":
                return self._predict(req, model)
        except _GoogleInvalid as err:
            return JsonResponse(err.status, google_error(err.status, err.message, err.details))
        return self.not_found(req)

    def _claude(self, req: RecordedRequest, model: str, method: str):
        if method not in ("rawPredict", "streamRawPredict"):
            return self.not_found(req)
        body = req.json
        if not isinstance(body, dict):
            return JsonResponse(400, _anthropic_error("invalid_request_error", "Input should be a valid dictionary"))
        if "model" in body:
            return JsonResponse(400, _anthropic_error("invalid_request_error", "model: Extra inputs are not permitted"))
        if body.get("anthropic_version") != ANTHROPIC_VERTEX_VERSION:
            return JsonResponse(400, _anthropic_error(
                "invalid_request_error",
                f"anthropic_version: Input should be '{ANTHROPIC_VERTEX_VERSION}'"))
        messages_body = {k: v for k, v in body.items() if k != "anthropic_version"}
        messages_body["model"] = model
        if (method == "streamRawPredict") != bool(body.get("stream")):
            return JsonResponse(400, _anthropic_error(
                "invalid_request_error", f"{method} needs stream={method == 'streamRawPredict'}"))
        try:
            turns = self.claude.validate(messages_body)
        except Exception as err:  # AnthropicMock's validation error
            return JsonResponse(400, _anthropic_error("invalid_request_error", str(err)))
        return self.claude._answer(messages_body, turns)

    def _predict(self, req: RecordedRequest, model: str) -> JsonResponse:
        body = _fields(req.json, {"instances", "parameters"}, "")
        instances = body.get("instances")
        if not instances or not isinstance(instances, list):
            raise _GoogleInvalid("instances must not be empty")
        params = _fields(body.get("parameters") or {}, {"outputDimensionality", "autoTruncate"}, "parameters")
        dims = params.get("outputDimensionality", self.embedding_dims)
        if not _is_int(dims) or dims < 1:
            raise _GoogleInvalid(f"Invalid value at 'parameters.output_dimensionality', {dims}")
        predictions = []
        for i, inst in enumerate(instances):
            f = _fields(inst, {"content", "taskType", "title"}, f"instances[{i}]")
            if not isinstance(f.get("content"), str) or not f["content"]:
                raise _GoogleInvalid(f"instances[{i}].content must be a non-empty string")
            predictions.append({"embeddings": {
                "statistics": {"truncated": False, "token_count": max(1, _words(f["content"]))},
                "values": _embedding(f["content"], dims),
            }})
        chars = sum(len(p) for p in (i.get("content", "") for i in instances))
        return JsonResponse(200, {"predictions": predictions, "metadata": {"billableCharacterCount": chars}})
