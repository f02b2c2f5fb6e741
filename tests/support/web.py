"""Helpers for driving the app through its forms, as a browser would."""

from __future__ import annotations

import re

TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')
CSRF_IN_PAGE = re.compile(r'("x-csrftoken": "|name="_csrf_token" value=")[0-9a-f]+')


def without_csrf_token(html: str) -> str:
    """The page with its CSRF token blanked: the token is masked anew in every response (webapp/csrf.py), so
    pages that answer alike differ there and nowhere else."""
    return CSRF_IN_PAGE.sub(r"\1<csrf>", html)


async def csrf_token(client, path: str = "/login") -> str:
    page = await client.get(path)
    return TOKEN.search(page.text).group(1)


async def post_form(client, path: str, data: dict, htmx: bool = False, token: str | None = None):
    token = token or await csrf_token(client)
    headers = {"hx-request": "true", "x-csrftoken": token} if htmx else {}
    body = data if htmx else {**data, "_csrf_token": token}
    return await client.post(path, data=body, headers=headers, follow_redirects=False)


def field_error(html: str, field: str) -> str:
    """The text of a field's error paragraph ('' when hidden)."""
    match = re.search(
        rf'<p class="field__error" id="error-{field}" role="alert"( hidden)?>(.*?)</p>', html, re.S
    )
    assert match, f"no error slot for {field}"
    return "" if match.group(1) else re.sub(r"<[^>]+>", "", match.group(2)).strip()
