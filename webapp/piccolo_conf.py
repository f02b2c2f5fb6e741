"""Piccolo's configuration module (PICCOLO_CONF=webapp.piccolo_conf), and where the app binds its engine.

DB starts as ``webapp.db.engine()`` (``WEBAPP_DATABASE_URL``); :func:`bind` replaces it when the app or a
command starts, so Piccolo's migration runner uses the same engine as the tables.
"""

from typing import Any

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine

from webapp import db
from webapp.piccolo_app import APP_CONFIG

DB = db.engine()

APP_REGISTRY = AppRegistry(apps=["webapp.piccolo_app"])


def bind(engine: Engine[Any]) -> None:
    """Every table, and Piccolo's migration runner, on this engine."""
    global DB
    db.bind(engine, APP_CONFIG.table_classes)
    DB = engine
