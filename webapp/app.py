"""The application factory."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined
from litestar import Litestar, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.middleware import DefineMiddleware
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXPlugin, HTMXRequest
from litestar.response import Template
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

if TYPE_CHECKING:
    from webapp.faceflows.purposes import FacePurpose

from webapp import db, piccolo_conf
from webapp.clock import local_time
from webapp.csrf import CSRFMiddleware
from webapp.i18n import LOCALES, _, current_locale, level_name, ngettext
from webapp.logs import configure_logging
from webapp.runtime import Runtime, build_runtime
from webapp.settings import Settings, SettingsError, load_settings
from webapp.sms.channels import template_problems
from webapp.sms.messages import CODE, notice_kind
from webapp.staticfiles import (
    REVALIDATE,
    STATIC_DIR,
    Asset,
    StaticAssets,
    asset_response,
    assets_of,
    static_file,
)
from webapp.templating import LocalizedJinja, csrf_field
from webapp.web import (
    PageMiddleware,
    RuntimeDep,
    dependencies,
    redirect,
    safe_next,
    security_headers_hook,
    set_locale,
    wants_partial,
)

log = logging.getLogger("webapp")
CSRF_EXEMPT_PATHS = "^/api/v1/"  # the API takes keys, not cookies; anchored, so no other path borrows it

PACKAGE_DIR = Path(__file__).parent
SHELL_FILES = [
    "css/app.css",
    "js/app.js",
    "vendor/htmx/htmx.min.js",
    "icons/icon-192.png",
    "manifest.webmanifest",
]


@get("/", include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    return redirect(request, "/login")


@get("/healthz", include_in_schema=False, cache_control=None, not_a_page=True)
async def healthz(rt: RuntimeDep) -> Response[Any]:
    try:
        await db.ensure_pool(rt.settings.database_pool_size)
        await db.ping()
    except Exception as error:  # any failure to reach the database is the answer
        log.warning("health check failed: %s", type(error).__name__)
        return Response({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return Response({"status": "ok", "database": "ok"})


def service_worker_asset(assets: StaticAssets) -> Asset:
    """sw.js with its shell version (a digest of the shell it precaches) and the fingerprinted URLs the
    pages ask for."""
    digest = hashlib.sha256()
    for name in [*SHELL_FILES, "sw.js"]:
        digest.update(assets.fingerprint(name).encode())
    digest.update((PACKAGE_DIR / "templates" / "offline.html").read_bytes())
    worker = assets.get("sw.js")
    assert worker is not None  # noqa: S101 - shipped with the package
    source = worker.body.decode().replace("__SHELL_VERSION__", digest.hexdigest()[:16])
    for name in SHELL_FILES:
        if name != "manifest.webmanifest":
            source = source.replace(f'"/static/{name}"', f'"{assets.url(name)}"')
    return Asset.made(source.encode(), "text/javascript")


@get("/sw.js", include_in_schema=False, not_a_page=True)
async def service_worker(request: Request[Any, Any, Any]) -> Response[bytes]:
    assets = assets_of(request)
    worker = service_worker_asset(assets) if assets.watch else request.app.state.service_worker
    return asset_response(request, worker, REVALIDATE)


@get("/manifest.webmanifest", include_in_schema=False, not_a_page=True)
async def manifest(request: Request[Any, Any, Any]) -> Response[bytes]:
    asset = assets_of(request).get("manifest.webmanifest")
    if asset is None:
        raise NotFoundException()
    return asset_response(request, asset, REVALIDATE)


@get("/offline", include_in_schema=False)
async def offline() -> Template:
    return Template(template_name="offline.html")


@get("/lang/{code:str}", include_in_schema=False)
async def choose_language(
    request: Request[Any, Any, Any],
    rt: RuntimeDep,
    code: FromPath[str],
    next: FromQuery[str] = "/login",  # noqa: A002
) -> Response[Any]:
    if code not in LOCALES:
        raise NotFoundException()
    response = redirect(request, safe_next(next, "/login"))
    secure = not rt.settings.dev
    response.set_cookie(
        "lang", code, max_age=365 * 86400, samesite="lax", httponly=True, path="/", secure=secure
    )
    return response


def _error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status = getattr(exc, "status_code", 500)
    set_locale(request)
    unavailable = db.is_unavailable(exc)
    if status >= 500 and not unavailable:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
    if unavailable:
        status = 503
    messages = {
        403: _("请求已失效，请刷新页面后重试"),
        404: _("页面不存在"),
        405: _("不支持的请求方式"),
        413: _("提交的内容过大"),
        429: _("操作过于频繁，请稍后再试"),
        503: _("服务暂时不可用，请稍后再试"),
    }
    message = messages.get(status, _("请求无法处理") if status < 500 else _("系统繁忙，请稍后再试"))
    headers = {"retry-after": str(db.RETRY_AFTER_SECONDS)} if unavailable else {}
    template = "error.html"
    if wants_partial(request):  # htmx swaps a part: the refusal goes above the form, which keeps its input
        headers.update({"hx-retarget": "#page-alert", "hx-reswap": "outerHTML"})
        template = "partials/page_alert.html"
    context = {"status": status, "message": message}
    return Template(template_name=template, context=context, status_code=status, headers=headers)


async def purge_hourly(runtime: Runtime) -> None:
    """Retention: expired codes, sessions, flows and limit events go within the hour (design §8)."""
    from webapp.retention import purge_expired

    while True:
        try:
            log.info(await purge_expired(runtime))
        except Exception as error:  # a database hiccup must not end the loop
            log.warning("purge failed: %s", type(error).__name__)
        await asyncio.sleep(3600)


def _configure_templates(engine: LocalizedJinja, assets: StaticAssets) -> None:
    env = engine.engine
    env.undefined = StrictUndefined
    env.auto_reload = assets.watch  # in production a template is read once, not checked on every render
    env.add_extension("jinja2.ext.i18n")
    # jinja2.ext.i18n adds this method to the Environment when the extension loads; the stubs cannot know
    env.install_gettext_callables(gettext=_, ngettext=ngettext, newstyle=False)  # type: ignore[attr-defined]
    env.globals.update(
        locales=LOCALES,
        current_locale=current_locale.get,
        static=assets.url,
        level_name=level_name,
        csrf_field=csrf_field,
        local_time=local_time,
    )
    engine.fold(static=None if assets.watch else assets.url)


def face_purposes(settings: Settings) -> list[FacePurpose]:
    """The face purposes the screens scan for (the dev calibration with WEBAPP_ENV=dev)."""
    from webapp import devtools
    from webapp.accounts import activation_routes, level_routes, recover_routes
    from webapp.accounts import routes as account_routes
    from webapp.business import routes as business_routes
    from webapp.privacy import deletion_routes
    from webapp.privacy import routes as privacy_routes

    purposes = [
        *account_routes.FACE_PURPOSES,
        *recover_routes.FACE_PURPOSES,
        *activation_routes.FACE_PURPOSES,
        *level_routes.FACE_PURPOSES,
        *business_routes.FACE_PURPOSES,
        *privacy_routes.FACE_PURPOSES,
        *deletion_routes.FACE_PURPOSES,
    ]
    return purposes + devtools.FACE_PURPOSES if settings.dev else purposes


def sms_kinds(settings: Settings) -> list[str]:
    """Every kind of SMS the service sends: the code, each security notice with a text of its own, and
    the notice after a signed-out face success, one per face purpose that has one."""
    from webapp.sms.notices import TEXTS, Notice

    face_notices = [p.name for p in face_purposes(settings) if p.notice]
    return [CODE, *map(str, TEXTS), *(notice_kind(Notice.FACE_SUCCESS, name) for name in face_notices)]


def check_sms_templates(settings: Settings) -> None:
    """Start-up: with an SMS provider, refuse to start while a kind of message has no template."""
    if problems := template_problems(settings, sms_kinds(settings)):
        raise SettingsError(problems)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Litestar:
    settings = settings or (runtime.settings if runtime else load_settings())
    check_sms_templates(settings)
    runtime = runtime or build_runtime(settings)
    configure_logging(settings)

    from webapp import devtools
    from webapp.accounts import (
        activation_routes,
        level_routes,
        profile_routes,
        recover_routes,
        register_routes,
        self_service_routes,
    )
    from webapp.accounts import routes as account_routes
    from webapp.accounts.auth import (
        ConsentRequired,
        DeletionPending,
        SignInRequired,
        to_consent,
        to_deletion,
        to_sign_in,
    )
    from webapp.business import routes as business_routes
    from webapp.business.api import api_router, openapi_config
    from webapp.faceflows import stream
    from webapp.faceflows.purposes import registry
    from webapp.metrics_http import RequestMiddleware, count_response, metrics
    from webapp.privacy import deletion_routes
    from webapp.privacy import routes as privacy_routes

    background: list[asyncio.Task[None]] = []
    assets = StaticAssets(STATIC_DIR, watch=settings.dev)

    async def start() -> None:
        piccolo_conf.bind(db.make_engine(settings.database_url))
        await db.ensure_pool(settings.database_pool_size)
        background.append(asyncio.create_task(purge_hourly(runtime)))

    async def stop() -> None:
        for task in background:  # the test client may stop the app from another loop than started it
            task.get_loop().call_soon_threadsafe(task.cancel)
        here = [task for task in background if task.get_loop() is asyncio.get_running_loop()]
        if here:  # done with the database before it closes (bounded: a stop must not hang)
            await asyncio.wait(here, timeout=5)
        await db.close_pool()
        runtime.close()

    route_handlers: list[ControllerRouterHandler] = [
        home,
        healthz,
        service_worker,
        manifest,
        offline,
        choose_language,
        static_file,
        metrics,
        *account_routes.ROUTES,
        *register_routes.ROUTES,
        *activation_routes.ROUTES,
        *recover_routes.ROUTES,
        *profile_routes.ROUTES,
        *self_service_routes.ROUTES,
        *privacy_routes.ROUTES,
        *deletion_routes.ROUTES,
        *level_routes.ROUTES,
        *stream.ROUTES,
        *business_routes.ROUTES,
        api_router(),
    ]
    if settings.dev:
        route_handlers += devtools.ROUTES

    app = Litestar(
        route_handlers=route_handlers,
        on_startup=[start],
        on_shutdown=[stop],
        request_class=HTMXRequest,
        plugins=[HTMXPlugin()],
        template_config=TemplateConfig(
            directory=[PACKAGE_DIR / "templates", PACKAGE_DIR / "components"],
            engine=LocalizedJinja,
            engine_callback=lambda engine: _configure_templates(engine, assets),
        ),
        middleware=[
            RequestMiddleware,
            DefineMiddleware(
                CSRFMiddleware,
                key=runtime.keyring.derived_secret("csrf"),
                cookie_name="csrftoken" if settings.dev else "__Host-csrftoken",
                secure=not settings.dev,
                exempt_paths=CSRF_EXEMPT_PATHS,
            ),
            PageMiddleware,
        ],
        before_send=[security_headers_hook(hsts=not settings.dev), count_response],
        exception_handlers={
            SignInRequired: to_sign_in,
            ConsentRequired: to_consent,
            DeletionPending: to_deletion,
            Exception: _error_page,
        },
        dependencies=dependencies(runtime),
        request_max_body_size=2 * 1024 * 1024,
        logging_config=None,  # webapp.logs configures logging (Litestar's own would replace its handler)
        debug=False,
        # The OpenAPI schema documents /api/v1 only: HTML pages are left out at the app layer and the
        # API router opts back in. Served as JSON at /api/v1/schema.
        include_in_schema=False,
        openapi_config=openapi_config(),
    )
    app.state.runtime = runtime
    app.state.assets = assets
    if not assets.watch:
        app.state.service_worker = service_worker_asset(assets)
    app.state.face_purposes = registry(face_purposes(settings))
    return app
