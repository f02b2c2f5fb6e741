"""``/api/v1``: the JSON API of the registration system. API key (``Authorization: Bearer``) only;
cookies are ignored and CSRF does not apply. Every error is JSON: ``{"error", "message", "field",
"errors"}``; odd input is a 4xx, never a 5xx.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, Router, get, post, route
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from webapp import db
from webapp.business.apikeys import authenticate
from webapp.business.rules import KINDS, ROLES, STATUSES, FieldProblem, FilingInvalid, validate_filing
from webapp.business.service import (
    FilingStatus,
    IdempotencyConflict,
    create_filing,
    list_filing_statuses,
    system_filing_status,
)
from webapp.i18n import N_, _
from webapp.web import RuntimeDep, origin_of, runtime_of

log = logging.getLogger(__name__)

PAGE_DEFAULT, PAGE_MAX = 50, 100
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")


def _doc(description: str, example: Any = None, **extra: Any) -> msgspec.Meta:
    schema: dict[str, Any] = {"description": description}
    if example is not None:
        schema["examples"] = [example]
    if extra:
        schema["extra"] = extra
    return msgspec.Meta(extra_json_schema=schema)


# --- request and response bodies (they are the OpenAPI schema) ---------------------------------------


ROLE_DOC = "role code: " + ", ".join(f"{code} ({label})" for code, label in ROLES.items())
KIND_DOC = "filing kind: " + ", ".join(f"{code} ({label})" for code, label in KINDS.items())


class PersonIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, _doc("姓名 (name as on the ID card)", "张三")]
    id_number: Annotated[str, _doc("身份证号, 18 characters", "110101199003071233")]
    role: Annotated[str, _doc(ROLE_DOC, "legal_representative", enum=list(ROLES))]


class FilingIn(msgspec.Struct, forbid_unknown_fields=True):
    company_name: Annotated[str, _doc("企业名称, 2-100 characters", "北京示例科技有限公司")]
    kind: Annotated[str, _doc(KIND_DOC, "establish", enum=list(KINDS))]
    persons: Annotated[list[PersonIn], _doc("1-50 persons; an ID number at most once per filing")]


class PersonOut(msgspec.Struct):
    name: Annotated[str, _doc("masked name; empty once the person's account is deleted (注销账号)", "*三")]
    id_number: Annotated[
        str, _doc("masked ID number; empty once the person's account is deleted", "1101-XXXXXXXXXXXX33")
    ]
    role: Annotated[str, _doc("role code", "legal_representative", enum=list(ROLES))]
    role_label: Annotated[str, _doc("role in Chinese", "法定代表人")]
    status: Annotated[str, _doc("this person's decision", "pending", enum=list(STATUSES))]
    decided_at: Annotated[datetime | None, _doc("when the person confirmed or declined (UTC)")]


class FilingOut(msgspec.Struct):
    id: Annotated[str, _doc("the filing's reference", "F2026112800001")]
    company_name: str
    kind: Annotated[str, _doc("filing kind", "establish", enum=list(KINDS))]
    kind_label: Annotated[str, _doc("kind in Chinese", "设立")]
    status: Annotated[
        str,
        _doc(
            "pending until everyone confirmed (confirmed) or anyone declined (declined)",
            "pending",
            enum=list(STATUSES),
        ),
    ]
    created_at: datetime
    updated_at: datetime
    persons: list[PersonOut]


class FilingPage(msgspec.Struct):
    items: list[FilingOut]
    next_cursor: Annotated[
        str | None, _doc("pass as `cursor` to continue after the last item (also to poll later)")
    ]
    has_more: Annotated[bool, _doc("more items are waiting right now")]


class ProblemOut(msgspec.Struct):
    field: Annotated[str, _doc("the field, as a path into the request", "persons[1].id_number")]
    message: Annotated[str, _doc("what is wrong", "身份证号校验位不正确")]


class ErrorOut(msgspec.Struct, omit_defaults=True):
    error: Annotated[
        str,
        _doc(
            "invalid_request | unauthorized | not_found | idempotency_conflict | method_not_allowed",
            "invalid_request",
        ),
    ]
    message: str
    field: str | None = None
    errors: list[ProblemOut] = msgspec.field(default_factory=list)


def _error(
    status: int, error: str, message: str, problems: Sequence[FieldProblem] = (), /, **headers: str
) -> Response[Any]:  # Any: an error may answer any handler, whatever its body on success
    body = ErrorOut(
        error=error,
        message=message,
        field=problems[0].field if problems else None,
        errors=[ProblemOut(p.field, p.message) for p in problems],
    )
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _invalid(problems: list[FieldProblem]) -> Response[Any]:
    translated = [FieldProblem(p.field, _(p.message)) for p in problems]
    return _error(400, "invalid_request", translated[0].message, translated)


def _filing_out(filing: FilingStatus) -> FilingOut:
    return FilingOut(
        id=filing.reference,
        company_name=filing.company_name,
        kind=filing.kind,
        kind_label=KINDS.get(filing.kind, filing.kind),
        status=filing.status,
        created_at=filing.created_at,
        updated_at=filing.updated_at,
        persons=[
            PersonOut(
                name=p.name,
                id_number=p.id_number,
                role=p.role,
                role_label=ROLES.get(p.role, p.role),
                status=p.status,
                decided_at=p.decided_at,
            )
            for p in filing.persons
        ],
    )


# --- authentication and errors ----------------------------------------------------------------------

UNAUTHORIZED_MESSAGES = {
    "missing": N_("请在 Authorization 请求头中提供 API 密钥：Bearer <key>"),
    "malformed": N_("API 密钥无效"),
    "unknown": N_("API 密钥无效"),
    "revoked": N_("API 密钥已被吊销"),
}


async def require_api_key(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Only the Authorization header counts; cookies are never read here."""
    rt = runtime_of(connection)
    result = await authenticate(rt, connection.headers.get("authorization"))
    if result.key is None:
        raise NotAuthorizedException(detail=result.problem)
    connection.state.api_key = result.key


_MISSING_FIELD = re.compile(r"Object missing required field `(.+)`")
_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `(.+)`")
_EXPECTED = re.compile(r"Expected `(\w+)[^`]*`")
TYPE_NAMES = {
    "str": N_("字符串"),
    "array": N_("数组"),
    "object": N_("对象"),
    "int": N_("整数"),
    "bool": N_("布尔值"),
}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _problem_from_validation(item: dict[str, Any]) -> FieldProblem:
    """Litestar/msgspec's decoding errors in our shape (field path + message)."""
    source, key, text = item.get("source", ""), str(item.get("key", "")), str(item.get("message", ""))
    path = "" if key == "data" and source == "body" else key
    if source == "body" and key == "data" and text == "'data'":
        return FieldProblem("", N_("请求体不能为空"))
    if match := _MISSING_FIELD.match(text):
        return FieldProblem(_join(path, match.group(1)), N_("缺少必填字段"))
    if match := _UNKNOWN_FIELD.match(text):
        return FieldProblem(_join(path, match.group(1)), N_("不支持的字段"))
    if (match := _EXPECTED.match(text)) and match.group(1) in TYPE_NAMES:
        return FieldProblem(path, _("类型不正确，应为{kind}", kind=_(TYPE_NAMES[match.group(1)])))
    return FieldProblem(path, N_("格式不正确"))


def api_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorOut]:
    if isinstance(exc, NotAuthorizedException):
        problem = exc.detail if exc.detail in UNAUTHORIZED_MESSAGES else "unknown"
        return _error(
            401,
            "unauthorized",
            _(UNAUTHORIZED_MESSAGES[problem]),
            **{"www-authenticate": 'Bearer realm="api"'},
        )
    if isinstance(exc, ValidationException):
        problems = [_problem_from_validation(item) for item in (exc.extra or []) if isinstance(item, dict)]
        return _invalid(problems or [FieldProblem("", N_("格式不正确"))])
    if isinstance(exc, ClientException) and exc.status_code == 400 or isinstance(exc, RecursionError):
        return _error(400, "invalid_request", _("请求体不是有效的JSON"))
    if isinstance(exc, NotFoundException):
        return _error(404, "not_found", _("未找到"))
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        errors = {405: "method_not_allowed", 413: "request_too_large", 415: "unsupported_media_type"}
        return _error(exc.status_code, errors.get(exc.status_code, "invalid_request"), str(exc.detail))
    if db.is_unavailable(exc):
        retry_after = {"retry-after": str(db.RETRY_AFTER_SECONDS)}
        return _error(503, "unavailable", _("服务暂时不可用，请稍后再试"), **retry_after)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error(500, "internal_error", _("系统繁忙，请稍后再试"))


# --- the filings controller -------------------------------------------------------------------------

ERRORS = {
    400: ResponseSpec(ErrorOut, description="invalid request: `field` names the first wrong field"),
    401: ResponseSpec(ErrorOut, description="missing, unknown or revoked API key"),
}


def _parse_changed_since(raw: str | None, problems: list[FieldProblem]) -> datetime | None:
    if raw is None:
        return None
    text = raw.strip()
    # An unencoded "+" in a query string arrives as a space: 2026-03-02T09:00:00 08:00
    text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text)
    try:
        moment = datetime.fromisoformat(text) if len(text) <= 64 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        problems.append(
            FieldProblem(
                "changed_since",
                N_("changed_since 应为带时区的 ISO 8601 时间，例如 2026-03-02T09:00:00+08:00"),
            )
        )
        return None
    return moment.astimezone(UTC)


class FilingController(Controller):
    path = "/filings"
    tags = ["filings"]

    @post(
        "/",
        status_code=201,
        summary="Create a filing (idempotent)",
        description=(
            "Creates a filing that names persons by name, ID number and role. The `Idempotency-Key` "
            "header is required: repeating a request with the same key and the same body returns the "
            "filing created the first time with **200** (`Idempotent-Replayed: true`); the first "
            "creation answers **201**. The same key with another body answers **409**."
        ),
        response_headers=[
            ResponseHeader(name="Location", description="/api/v1/filings/{id}", documentation_only=True),
            ResponseHeader(
                name="Idempotent-Replayed",
                description="true when this answers a repeated request (200)",
                documentation_only=True,
            ),
        ],
        responses={
            200: ResponseSpec(FilingOut, description="replay of an earlier request with the same key"),
            **ERRORS,
            409: ResponseSpec(ErrorOut, description="the Idempotency-Key was used with another body"),
        },
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        rt: RuntimeDep,
        data: JSONBody[FilingIn],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key",
                required=True,
                description="client-chosen key, 1-128 visible ASCII characters (a UUID, say)",
            ),
        ] = None,
    ) -> Response[FilingOut]:
        problems: list[FieldProblem] = []
        if idempotency_key is None or not idempotency_key.strip():
            problems.append(FieldProblem("Idempotency-Key", N_("缺少 Idempotency-Key 请求头")))
        elif not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            problems.append(FieldProblem("Idempotency-Key", N_("Idempotency-Key 应为1至128个可见ASCII字符")))
        try:
            new = validate_filing(
                data.company_name,
                data.kind,
                [msgspec.structs.asdict(person) for person in data.persons],
                rt.clock.today(),
            )
        except FilingInvalid as invalid:
            return _invalid(problems + invalid.problems)
        if problems:
            return _invalid(problems)
        key = request.state.api_key
        try:
            reference, created = await create_filing(
                rt, new, origin_of(request), api_key_id=key.id, idempotency_key=idempotency_key
            )
        except IdempotencyConflict as conflict:
            return _error(
                409,
                "idempotency_conflict",
                _("该 Idempotency-Key 已用于另一份不同的申请（{reference}）", reference=conflict.reference),
                [FieldProblem("Idempotency-Key", _("该 Idempotency-Key 已用于另一份不同的申请"))],
            )
        filing = await system_filing_status(rt, key.system, reference)
        assert filing is not None  # made, or made before, with this very key
        return Response(
            _filing_out(filing),
            status_code=201 if created else 200,
            headers={
                "location": f"/api/v1/filings/{reference}",
                "idempotent-replayed": "false" if created else "true",
            },
        )

    @get(
        "/{filing_id:str}",
        summary="Read a filing and each person's status",
        description=(
            "Only a filing made with a key of this key's registration system; any other answers **404**, "
            "exactly as a filing that does not exist."
        ),
        responses={
            **ERRORS,
            404: ResponseSpec(ErrorOut, description="no filing with this id in this key's system"),
        },
    )
    async def read(
        self, request: Request[Any, Any, Any], rt: RuntimeDep, filing_id: FromPath[str]
    ) -> Response[FilingOut]:
        key = request.state.api_key
        filing = await system_filing_status(rt, key.system, filing_id)
        if filing is None:
            return _error(404, "not_found", _("未找到该申请"), [FieldProblem("id", _("未找到该申请"))])
        return Response(_filing_out(filing))

    @get(
        "/",
        summary="List filings in the order they changed",
        description=(
            "The filings of this key's registration system whose `updated_at` is at or after "
            "`changed_since`, in the order they changed (oldest change first). Page with `cursor` = the "
            "previous page's `next_cursor`; a filing that changes again appears again, later in the feed."
        ),
        responses=ERRORS,
    )
    async def index(
        self,
        request: Request[Any, Any, Any],
        rt: RuntimeDep,
        changed_since: Annotated[
            str | None,
            QueryParameter(description="ISO 8601 with a time zone, e.g. 2026-03-02T09:00:00+08:00"),
        ] = None,
        cursor: Annotated[
            str | None, QueryParameter(description="`next_cursor` of the previous page")
        ] = None,
        limit: Annotated[
            int | None, QueryParameter(description=f"page size, 1-{PAGE_MAX} (default {PAGE_DEFAULT})")
        ] = None,
    ) -> Response[FilingPage]:
        problems: list[FieldProblem] = []
        since = _parse_changed_since(changed_since, problems)
        after = None
        if cursor is not None:
            if re.fullmatch(r"[0-9]{1,18}", cursor):
                after = int(cursor)
            else:
                problems.append(FieldProblem("cursor", N_("cursor 无效，请使用上一页返回的 next_cursor")))
        size = PAGE_DEFAULT if limit is None else limit
        if not 1 <= size <= PAGE_MAX:
            problems.append(FieldProblem("limit", N_("limit 应为1至100之间的整数")))
        if problems:
            return _invalid(problems)
        system = request.state.api_key.system
        items, more = await list_filing_statuses(rt, system, since, after, size)
        next_cursor = str(items[-1].change_seq) if items else cursor
        return Response(FilingPage([_filing_out(f) for f in items], next_cursor, more))


@route(
    "/{rest:path}",
    http_method=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
    guards=[],
)
async def api_not_found(rest: FromPath[str]) -> Response[ErrorOut]:
    return _error(404, "not_found", _("未找到"))


def api_router() -> Router:
    return Router(
        path="/api/v1",
        route_handlers=[FilingController, api_not_found],
        guards=[require_api_key],
        exception_handlers={Exception: api_error},
        include_in_schema=True,
        cache_control=CacheControlHeader(no_store=True),
        security=[{"bearerAuth": []}],
    )


def openapi_config() -> OpenAPIConfig:
    """The schema of /api/v1 only, as JSON at /api/v1/schema (and /api/v1/schema/openapi.json).

    The app sets include_in_schema=False at its top layer, so HTML pages stay out; this router opts in.
    No interactive viewer: those load scripts from CDNs, which the content security policy refuses.
    """
    return OpenAPIConfig(
        title="Shiming 实名 registration system API",
        version="1",
        description=(
            "Filings (设立/变更/注销) that name persons by name, ID number and role; each named person "
            "confirms or declines with a face scan. Authenticate with `Authorization: Bearer <API key>` "
            "(`webapp apikey create NAME [--system SYSTEM]`).\n\n"
            "**What a key sees:** each key belongs to one registration system (its own name unless it was "
            "created with `--system`). It reads, lists and follows in the change feed only the filings "
            "made with keys of that system, revoked keys included, so a replacement key made with the "
            "same `--system` keeps seeing them. Filings of other systems, and filings made without a key "
            "(the demo seed), answer 404 exactly as a filing that does not exist and never appear in a "
            "listing. `Idempotency-Key`s are remembered per key."
        ),
        path="/api/v1/schema",
        render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        components=Components(
            security_schemes={
                "bearerAuth": SecurityScheme(
                    type="http", scheme="bearer", description="an API key: shm_<prefix>_<secret>"
                )
            }
        ),
    )
