"""Piccolo's configuration module (PICCOLO_CONF=webapp.piccolo_conf).

DB starts from WEBAPP_DATABASE_URL; ``webapp.db.bind`` replaces it when the app or a command starts.
"""

import os

from piccolo.conf.apps import AppRegistry

from webapp.db import make_engine
from webapp.settings import Settings

DB = make_engine(os.environ.get("WEBAPP_DATABASE_URL", Settings.database_url))

APP_REGISTRY = AppRegistry(apps=["webapp.piccolo_app"])
