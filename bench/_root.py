"""Imported first by every script in bench/: ``python bench/x.py`` puts bench/ first on the import path, where
bench/http.py would shadow the standard library's ``http`` (which httpx and aiosmtpd import). Move bench/ to
the end of the path (spawned worker processes still find this module there) and put the project root first,
so ``webapp`` and ``tests.support`` import as they do in the tests."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
elsewhere = [p for p in sys.path if Path(p or ".").resolve() not in {HERE, ROOT}]
sys.path[:] = [str(ROOT), *elsewhere, str(HERE)]
