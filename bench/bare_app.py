"""The bare Litestar app bench/http.py measures the project against: one ``GET /`` answering the text
"hello", no middleware, no template, no database. bench/http.py serves it with uvicorn exactly as
``webapp serve`` serves the project (uvloop, httptools, no access log, one worker)."""

from litestar import Litestar, get


@get("/")
async def hello() -> str:
    return "hello"


app = Litestar([hello])
