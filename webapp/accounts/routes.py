"""Account screens: thin handlers; the rules live in webapp.accounts.service."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.plugins.htmx import HTMXRequest

from webapp import audit
from webapp.accounts import forms, guard, sessions
from webapp.accounts.service import LoginOutcome, login
from webapp.accounts.tables import Account
from webapp.accounts.views import account_view, section_nav
from webapp.clock import clock_time
from webapp.i18n import N_, _, ngettext
from webapp.web import origin_of, redirect, render, runtime_of, safe_next

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def session_cookie(request: Request, token: str | None) -> Cookie:
    rt = runtime_of(request)
    return Cookie(
        key=sessions.cookie_name(rt),
        value=token or "",
        path="/",
        httponly=True,
        secure=not rt.settings.dev,
        samesite="lax",
        max_age=rt.settings.session_absolute_hours * 3600 if token else 0,
    )


def device_cookie(request: Request, account_id: int) -> Cookie:
    """Marks this browser as a known device of the account: its wrong passwords are counted apart from
    a stranger's, so a stranger's guesses do not lock the owner out here."""
    rt = runtime_of(request)
    return Cookie(
        key=guard.device_cookie_name(rt),
        value=guard.device_cookie_value(rt, account_id),
        path="/",
        httponly=True,
        secure=not rt.settings.dev,
        samesite="lax",
        max_age=guard.DEVICE_COOKIE_DAYS * 86400,
    )


async def current_session(request: Request) -> sessions.ActiveSession | None:
    rt = runtime_of(request)
    return await sessions.load_session(rt, request.cookies.get(sessions.cookie_name(rt)))


async def signed_in(
    request: Request, back_to: str = ""
) -> tuple[sessions.ActiveSession | None, Response | None]:
    """(the session, None), or (None, a redirect to 登录 that comes back to ``back_to`` or this page)."""
    active = await current_session(request)
    if active is None:
        return None, redirect(request, "/login?next=" + quote(back_to or request.url.path, safe="/"))
    return active, None


async def signed_in_account(request: Request, back_to: str = "") -> tuple[dict | None, Response | None]:
    """Like :func:`signed_in`, with the account's row."""
    active, away = await signed_in(request, back_to)
    if away:
        return None, away
    return await Account.select().where(Account.id == active.account_id).first(), None


@get("/login")
async def login_page(
    request: HTMXRequest,
    next: FromQuery[str] = "",  # noqa: A002
    reset: FromQuery[str] = "",
) -> Response:
    if await current_session(request):
        return redirect(request, safe_next(next))
    notice = _("密码已重置，请使用新密码登录") if reset else ""
    return render(
        request,
        "login.html",
        "partials/login_form.html",
        form={},
        errors={},
        next=safe_next(next, ""),
        notice=notice,
        offer_activation=False,
    )


@post("/login")
async def login_submit(request: HTMXRequest, data: Form) -> Response:
    rt = runtime_of(request)
    identifier = forms.text(data, "identifier")
    password = forms.text(data, "password", 128)
    target = safe_next(forms.text(data, "next", 512))
    errors: dict[str, str] = {}
    if not identifier.strip():
        errors["identifier"] = _("请输入手机号或身份证号")
    if not password:
        errors["password"] = _("请输入密码")
    if not errors:
        result = await login(
            rt, identifier, password, origin_of(request), request.cookies.get(guard.device_cookie_name(rt))
        )
        if result.outcome is LoginOutcome.OK:
            token = await sessions.start_session(
                rt,
                result.account_id,
                origin_of(request),
                replacing=request.cookies.get(sessions.cookie_name(rt)),
            )
            cookies = [session_cookie(request, token), device_cookie(request, result.account_id)]
            return redirect(request, target, cookies=cookies)
        if result.outcome is LoginOutcome.UNACTIVATED:
            return redirect(request, "/activate")
        errors.update(login_error(result, rt.clock.now()))
    status = 429 if "throttled" in errors else 200
    errors.pop("throttled", None)
    return render(
        request,
        "login.html",
        "partials/login_form.html",
        notice="",
        status_code=status,
        form={"identifier": identifier},
        errors=errors,
        next=target if target != "/account" else "",
        offer_activation="password" in errors,  # to everyone: FAQ 3's way, without telling who needs it
    )


def login_error(result, now: datetime) -> dict[str, str]:
    if result.outcome is LoginOutcome.LOCKED:
        return {
            "password": _(
                "密码错误次数过多，账号已锁定，请于{time}后再试", time=clock_time(result.until, now)
            )
        }
    if result.outcome is LoginOutcome.DISABLED:
        return {"identifier": _("账号已被停用，请联系客服")}
    if result.outcome is LoginOutcome.THROTTLED:
        seconds = max(1, math.ceil((result.until - now).total_seconds())) if result.until else 60
        if seconds > 60:
            wait = _("操作过于频繁，请于{time}后再试", time=clock_time(result.until, now))
        else:
            wait = ngettext("操作过于频繁，请{n}秒后再试", "操作过于频繁，请{n}秒后再试", seconds)
        return {"password": wait, "throttled": "1"}
    return {"password": _("账号或密码错误")}


DONE_NOTICES = {
    "registered": N_("注册成功，已登录"),
    "activated": N_("账号已激活，已登录"),
    "phone": N_("手机号已修改"),
    "password": N_("密码已修改，其他设备上的登录已退出"),
}


@get("/account")
async def account_page(request: HTMXRequest, done: FromQuery[str] = "") -> Response:
    row, away = await signed_in_account(request)
    if away:
        return away
    notice = _(DONE_NOTICES[done]) if done in DONE_NOTICES else ""
    offer = row["level"] < 4 and row["level4_offer"] == "pending"  # 首次登录引导, until taken or dismissed
    return render(
        request,
        "account.html",
        account=account_view(runtime_of(request), row),
        notice=notice,
        offer_level4=offer,
        nav=section_nav(runtime_of(request), row, "account"),
    )


@post("/logout")
async def logout(request: HTMXRequest) -> Response:
    rt = runtime_of(request)
    token = request.cookies.get(sessions.cookie_name(rt))
    active = await sessions.load_session(rt, token)
    if active is not None:
        await sessions.end_session(rt, token)
        await audit.record("logout", rt.clock.now(), origin_of(request), active.account_id)
    return redirect(request, "/login", cookies=[session_cookie(request, None)])


ROUTES = [login_page, login_submit, account_page, logout]
