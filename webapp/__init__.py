"""Shiming 实名: real-name identity accounts for business registration."""

import os

os.environ.setdefault("PICCOLO_CONF", "webapp.piccolo_conf")
