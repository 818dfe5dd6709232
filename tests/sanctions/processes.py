"""Running manage.py or a Celery worker in a separate process, on the test database."""

import os
import sys
from pathlib import Path
from urllib.parse import quote

from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """A DATABASE_URL for the test database, over TCP or the embedded server's socket."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = quote(db["HOST"] or "", safe="")  # a socket directory becomes %2F...
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{quote(db['NAME'], safe='')}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that shares the test's database."""
    env = {**os.environ, "DATABASE_URL": database_url(), "CONN_MAX_AGE": "0", **extra}
    env.setdefault("SECRET_KEY", "test-only-not-secret")
    return env


def manage(*args: str) -> list[str]:
    return [sys.executable, str(BASE_DIR / "manage.py"), *args]
