"""Hostile input on every form: never a 5xx, always a page or partial that says what is wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.support.web import csrf_token

pytestmark = pytest.mark.usefixtures("database")

ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=60, max_size=3000),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "１１０１０５１９９００５１７１２３Ｘ",
            "110105\u200b199005171234",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "../../etc/passwd",
            "%00",
            "\ud7ff",
            "😀" * 20,
            "9" * 500,
            "2026-02-30",
            "0000-00-00",
            "+8613800138000",
            "1" * 11,
            "a" * 20,
            "\r\n",
            "null",
            "[]",
        ]
    ),
)

TEMPLATES = Path(__file__).resolve().parent.parent / "webapp"
# Every field name the screens have: the field macros' first argument and every literal name="…".
FIELDS = sorted(
    {
        name
        for page in TEMPLATES.rglob("*.html")
        for name in re.findall(r'(?:field|choices)\("(\w+)"|name="(\w+)"', page.read_text(encoding="utf-8"))
        for name in name
        if name
    }
    - {"_csrf_token"}
)
NOT_FORMS = {"/logout"}  # signs the fuzzing client out; its own tests are in test_login_and_sessions.py
# Answers that are not a form's verdict on what was typed, so need not mark a field: the inline checks
# answer about what was typed so far, 激活账号 from 登录 carries the identifier over, the face scan answers
# JSON, and 暂不 / 撤回 move on.
NO_VERDICT = {
    "/register/check",
    "/register/validity",
    "/activate/from-login",
    "/face/scan/start",
    "/face/scan/finish",
    "/level/offer/dismiss",
    "/level/withdraw",
}


def form_routes(app) -> list[str]:
    """Every POST route of the app's screens (the API has its own fuzz): a new form is fuzzed without
    being listed here."""
    return sorted(
        route.path
        for route in app.routes
        if any("POST" in (handler.http_methods or ()) for handler in getattr(route, "route_handlers", ()))
        and not route.path.startswith("/api/")
        and route.path not in NOT_FORMS
    )


def test_the_fuzz_reaches_every_screen(app):
    routes = form_routes(app)
    for path in (
        "/recover",
        "/recover/sms",
        "/recover/code",
        "/recover/reset",
        "/login/face",
        "/activate/face",
    ):
        assert path in routes
    for name in ("identifier", "password2", "old_password", "valid_from", "period", "until", "business"):
        assert name in FIELDS


def form_values():
    return st.fixed_dictionaries({}, optional={name: ODD_TEXT for name in FIELDS})


async def post_everywhere(client, token: str, routes: list[str], data) -> None:
    for path in routes:
        values = data.draw(form_values(), label=path)
        for htmx in (False, True):
            headers = {"hx-request": "true", "x-csrftoken": token} if htmx else {}
            body = values if htmx else {**values, "_csrf_token": token}
            response = await client.post(path, data=body, headers=headers, follow_redirects=False)
            assert response.status_code < 500, (path, values, response.text[-500:])
            html = response.text
            assert "<script>alert(1)</script>" not in html
            if response.status_code == 200 and path not in NO_VERDICT:
                assert (
                    'aria-invalid="true"' in html
                    or "验证码已发送" in html
                    or "form-error" in html
                    or "hx-redirect" in response.headers
                ), (path, values, html[-800:])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_signed_out_forms_never_fail(app, client, data):
    token = await csrf_token(client)
    await post_everywhere(client, token, form_routes(app), data)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_signed_in_forms_never_fail(rt, app, client, data):
    token = await csrf_token(client)
    if not hasattr(rt, "_hostile_phone"):  # signed in once: the fuzzed /login would throttle a new sign-in
        _id, _record, rt._hostile_phone = await factories.account(rt)
        signed = await client.post(
            "/login",
            data={"identifier": rt._hostile_phone, "password": factories.PASSWORD, "_csrf_token": token},
            follow_redirects=False,
        )
        assert (signed.status_code, signed.headers.get("location")) == (303, "/account")
        step = await client.post(
            "/account/phone/password",
            data={"password": factories.PASSWORD, "_csrf_token": token},
            follow_redirects=False,
        )
        assert step.status_code == 200 and 'name="phone"' in step.text  # 修改手机号 step 2, and its forms
    still = await client.get("/account", follow_redirects=False)
    assert still.status_code == 200  # the signed-in forms are reached, not the way to 登录
    await post_everywhere(client, token, form_routes(app), data)


async def test_a_script_as_name_is_shown_escaped(client):
    response = await client.post(
        "/register", data={"name": "<script>alert(1)</script>", "_csrf_token": await csrf_token(client)}
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<script>alert(1)</script>" not in response.text
