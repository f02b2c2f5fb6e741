"""The bare Litestar apps bench/http.py measures the project against, served by uvicorn exactly as
``webapp serve`` serves the project (uvloop, httptools, no access log, one worker):
- ``app``: one ``GET /`` answering the text "hello", no middleware, no template, no database: the ratios'
  denominator;
- ``reference``: what Litestar itself gives for a form page, for context: ``GET /page``, a Jinja template
  of a form with 40 labelled fields and nothing else, and ``GET /page/protected``, the same page with
  Litestar's own CSRF middleware (its token in the form) and compression (brotli quality 1, as
  webapp/compression.py uses)."""

from jinja2 import DictLoader, Environment
from litestar import Litestar, get
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig


@get("/")
async def hello() -> str:
    return "hello"


app = Litestar([hello])

FORM = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><main><h1>{{ title }}</h1>
<form method="post" action="/page">{% if protected %}{{ csrf_input }}{% endif %}
{%- for field in fields %}
<label for="f{{ loop.index }}">{{ field.label }}</label>
<input id="f{{ loop.index }}" name="f{{ loop.index }}" value="{{ field.value }}" autocomplete="off">
{%- endfor %}
<button type="submit">提交</button></form></main></body></html>
"""
FIELDS = [{"label": f"第{n}项 身份信息", "value": ""} for n in range(1, 41)]


@get("/page", opt={"plain": True})
async def page() -> Template:
    return Template("form.html", context={"title": "注册账号", "fields": FIELDS, "protected": False})


@get("/page/protected")
async def protected_page() -> Template:
    return Template("form.html", context={"title": "注册账号", "fields": FIELDS, "protected": True})


reference = Litestar(
    [page, protected_page],
    template_config=TemplateConfig(
        engine=JinjaTemplateEngine.from_environment(Environment(loader=DictLoader({"form.html": FORM})))
    ),
    csrf_config=CSRFConfig(secret="bench-reference-secret", exclude_from_csrf_key="plain"),
    compression_config=CompressionConfig(backend="brotli", brotli_quality=1, exclude_opt_key="plain"),
)
