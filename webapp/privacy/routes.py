"""个人信息副本, reached from 账号管理: after a fresh password (or, at level 4, face) check, the copy as a
page and as a JSON download."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from litestar import Response, get, post
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.types import ControllerRouterHandler

from webapp import audit
from webapp.accounts import forms, sessions
from webapp.accounts.auth import AccountDep, session_id_of, signed_in_router
from webapp.accounts.flows import FlowKind
from webapp.accounts.records import AccountRecord
from webapp.accounts.views import section_nav
from webapp.clock import local_time
from webapp.i18n import N_, _
from webapp.privacy import consents
from webapp.privacy.copy import personal_data
from webapp.privacy.recheck import fresh_check, passed_check
from webapp.runtime import Runtime
from webapp.web import Form, OriginDep, RuntimeDep, came_from, redirect, render, safe_next

PAGE = "/account/data"


async def _check_page(
    request: HTMXRequest, rt: Runtime, account: AccountRecord, errors: dict[str, str], status_code: int = 200
) -> Response[Any]:
    return render(
        request,
        "personal_data.html",
        copy=None,
        errors=errors,
        face=account.level >= 4,
        status_code=status_code,
        nav=section_nav(rt, account, "account"),
    )


@get(PAGE)
async def personal_data_page(request: HTMXRequest, rt: RuntimeDep, account: AccountDep) -> Response[Any]:
    if await passed_check(request, rt, account, FlowKind.PERSONAL_DATA) is None:
        return await _check_page(request, rt, account, {})
    page = render(
        request,
        "personal_data.html",
        copy=await personal_data(rt, account),
        errors={},
        when=_local,
        consent_names={key: _(document.title) for key, document in consents.DOCUMENTS.items()},
        nav=section_nav(rt, account, "account"),
    )
    page.headers["cache-control"] = "no-store"
    return page


def _local(moment: str) -> str:
    """A moment of the copy (ISO 8601, as the JSON has it) as every screen shows one."""
    return local_time(datetime.fromisoformat(moment))


@get(f"{PAGE}/copy.json")
async def personal_data_download(
    request: HTMXRequest, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    if await passed_check(request, rt, account, FlowKind.PERSONAL_DATA) is None:
        return redirect(request, PAGE)
    document = await personal_data(rt, account)
    await audit.record("personal_data_downloaded", rt.clock.now(), origin, account.id)
    day = rt.clock.today().strftime("%Y%m%d")
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2).encode(),
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="personal-data-{day}.json"',
            "cache-control": "no-store",
        },
    )


@get("/consent", consent_page=True)
async def consent_page(
    request: HTMXRequest,
    account: AccountDep,
    next: FromQuery[str] = "",  # noqa: A002
) -> Response[Any]:
    """同意更新后的协议: what changed since the account last accepted, before anything else."""
    due = await consents.outstanding(account.id)
    if not due:  # accepted meanwhile (on another device, or this page posted twice)
        await sessions.consent_given(session_id_of(request))
        return redirect(request, safe_next(next))
    return render(
        request,
        "consent.html",
        documents=[(document, _(document.title)) for document in due],
        next=safe_next(next, ""),
    )


@post("/consent", consent_page=True)
async def consent_submit(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    """同意并继续: every outstanding version accepted, the session goes on where it was going."""
    due = await consents.outstanding(account.id)
    await consents.accept(rt, account.id, [document.key for document in due], origin)
    await sessions.consent_given(session_id_of(request))
    return redirect(request, safe_next(forms.text(data, "next", 512)))


@get("/privacy")
async def privacy_policy(request: HTMXRequest) -> Response[Any]:
    """个人信息保护政策, for everyone."""
    return render(request, "privacy.html", back=came_from(request, "/register"))


CHECK = fresh_check(
    PAGE,
    FlowKind.PERSONAL_DATA,
    N_("个人信息副本"),
    N_("请本人正对摄像头，按提示完成动作，核验通过后即可查看和下载个人信息副本。"),
    _check_page,
)
FACE_PURPOSES = [CHECK.face_purpose]
ROUTES: list[ControllerRouterHandler] = [
    privacy_policy,
    signed_in_router(
        personal_data_page,
        *CHECK.routes,
        personal_data_download,
        consent_page,
        consent_submit,
    ),
]
