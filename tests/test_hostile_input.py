"""Hostile input on every form: never a 5xx, always a page or partial that says what is wrong."""

from __future__ import annotations

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

PUBLIC_FORMS = {
    "/login": ["identifier", "password", "next"],
    "/register": ["name", "id_number", "valid_from", "period", "phone", "code", "password", "password2"],
    "/register/sms": ["phone"],
    "/register/check": ["name", "id_number"],
    "/register/validity": ["name", "id_number", "valid_from", "period"],
    "/activate": ["id_number", "phone", "code"],
    "/activate/sms": ["id_number", "phone"],
    "/activate/account": ["username", "password", "password2"],
}
INLINE_CHECKS = {
    "/register/check",
    "/register/validity",
}  # they answer about what was typed so far, if anything
ACCOUNT_FORMS = {
    "/account/phone/password": ["password"],
    "/account/phone/sms": ["phone"],
    "/account/phone": ["phone", "code"],
    "/account/password": ["old_password", "password", "password2"],
}


def form_values(fields: list[str]):
    return st.fixed_dictionaries({}, optional={name: ODD_TEXT for name in fields})


async def post_everywhere(client, token: str, forms: dict[str, list[str]], data) -> None:
    for path, fields in forms.items():
        values = data.draw(form_values(fields), label=path)
        for htmx in (False, True):
            headers = {"hx-request": "true", "x-csrftoken": token} if htmx else {}
            body = values if htmx else {**values, "_csrf_token": token}
            response = await client.post(path, data=body, headers=headers, follow_redirects=False)
            assert response.status_code < 500, (path, values, response.text[-500:])
            html = response.text
            assert "<script>alert(1)</script>" not in html
            if response.status_code == 200 and path not in INLINE_CHECKS:
                assert (
                    'aria-invalid="true"' in html
                    or "验证码已发送" in html
                    or "form-error" in html
                    or "hx-redirect" in response.headers
                ), (path, values)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_public_forms_never_fail(client, data):
    token = await csrf_token(client)
    await post_everywhere(client, token, PUBLIC_FORMS, data)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_account_forms_never_fail(rt, client, data):
    if not hasattr(rt, "_hostile_phone"):
        _id, _record, rt._hostile_phone = await factories.account(rt)
    token = await csrf_token(client)
    signed = await client.post(
        "/login",
        data={"identifier": rt._hostile_phone, "password": factories.PASSWORD, "_csrf_token": token},
        follow_redirects=False,
    )
    assert (signed.status_code, signed.headers.get("location")) == (303, "/account")  # the forms are reached
    step = await client.post(
        "/account/phone/password",
        data={"password": factories.PASSWORD, "_csrf_token": token},
        follow_redirects=False,
    )
    assert step.status_code == 200 and 'name="phone"' in step.text  # 修改手机号 step 2, where its forms are
    await post_everywhere(client, token, ACCOUNT_FORMS, data)


async def test_a_script_as_name_is_shown_escaped(client):
    response = await client.post(
        "/register", data={"name": "<script>alert(1)</script>", "_csrf_token": await csrf_token(client)}
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<script>alert(1)</script>" not in response.text
