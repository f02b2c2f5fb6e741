"""CSRF protection: a signed secret in a cookie, and in every page that secret masked anew.

A state-changing request must carry, in the ``x-csrftoken`` header (htmx, the face scan) or the
``_csrf_token`` field (a plain form), a token made from the secret in its cookie. Pages are compressed, so
a token written the same way in every page could be read off response sizes by someone who can make the
browser fetch pages that echo chosen text (BREACH). Each response therefore carries the secret XORed with a
fresh random pad (as Django does): no two pages hold the same bytes, and any of them is accepted.

The cookie keeps the format Litestar's CSRF middleware gave it (64 hex digits and their HMAC), so browsers
keep their cookie across the change, and a page from before it (whose token was the cookie's value) still
posts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from litestar import Request
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

SECRET_BYTES = 32
HEADER = b"x-csrftoken"
FIELD = "_csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
NOT_A_PAGE = "not_a_page"  # a route handler's opt: static files, /healthz: no form, so no token


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, *, key: str, cookie_name: str, secure: bool, exempt_paths: str):
        self.app = app
        self.key = key.encode()
        self.cookie_name = cookie_name
        self.cookie_attributes = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
        self.exempt_paths = re.compile(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or self._exempt(scope):
            await self.app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = Request(scope, receive)
        cookie = request.cookies.get(self.cookie_name)
        secret = cookie if cookie is not None and self._signed(cookie) else None
        state = ScopeState.from_scope(scope)
        if request.method in SAFE_METHODS:
            if secret is None:
                secret = self._new_secret()
                send = self._setting_cookie(send, secret)
            state.csrf_token = mask(secret)
            await self.app(scope, receive, send)
            return
        submitted = request.headers.get(HEADER.decode())
        if not submitted and request.content_type[0] in {
            RequestEncodingType.URL_ENCODED,
            RequestEncodingType.MULTI_PART,
        }:
            value = (await request.form()).get(FIELD)  # Litestar keeps the parsed form for the handler
            submitted = value if isinstance(value, str) else None
        if secret is None or not submitted or not matches(submitted, secret):
            raise PermissionDeniedException("CSRF token verification failed")
        state.csrf_token = mask(secret)
        await self.app(scope, receive, send)

    def _exempt(self, scope: Scope) -> bool:
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get(NOT_A_PAGE):
            return True
        return self.exempt_paths.match(scope["path"]) is not None

    def _sign(self, token: str) -> str:
        return hmac.new(self.key, token.encode(), hashlib.sha256).hexdigest()

    def _new_secret(self) -> str:
        token = secrets.token_hex(SECRET_BYTES)
        return token + self._sign(token)

    def _signed(self, cookie: str) -> bool:
        token, signature = cookie[: SECRET_BYTES * 2], cookie[SECRET_BYTES * 2 :]
        return len(token) == SECRET_BYTES * 2 and hmac.compare_digest(signature, self._sign(token))

    def _setting_cookie(self, send: Send, secret: str) -> Send:
        header = (b"set-cookie", f"{self.cookie_name}={secret}{self.cookie_attributes}".encode())

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        return send_with_cookie


def mask(secret: str) -> str:
    """The secret (the cookie's value) XORed with a fresh pad, pad first: 2 × its length, in hex."""
    raw = bytes.fromhex(secret)
    pad = secrets.token_bytes(len(raw))
    return (pad + _xor(pad, raw)).hex()


def _xor(a: bytes, b: bytes) -> bytes:
    """Byte by byte, ``a`` XOR ``b`` (of equal length), as big integers: 10× a loop over the bytes."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def matches(submitted: str, secret: str) -> bool:
    """Whether a submitted token was made from this secret: masked (any pad) or, from a page served
    before tokens were masked, the secret itself."""
    if hmac.compare_digest(submitted.encode(), secret.encode()):
        return True
    try:
        raw = bytes.fromhex(submitted)
    except ValueError:
        return False
    half = len(raw) // 2
    if half == 0 or len(raw) != 2 * half:
        return False
    unmasked = _xor(raw[:half], raw[half:]).hex()
    return hmac.compare_digest(unmasked.encode(), secret.encode())
