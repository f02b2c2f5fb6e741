"""The ASGI entry point for uvicorn workers."""

from webapp.app import create_app

app = create_app()
