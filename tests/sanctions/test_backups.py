"""manage.py backup, then manage.py restore into an empty database: nothing lost."""

import hashlib
import io
import os
import subprocess
import tarfile

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from sanctions import backups, exports
from sanctions.demo import load_demo

from .processes import BASE_DIR, child_env, database_url, manage


def _hashes(root):
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def empty_database():
    name = f"test_restore_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"
            " LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
        )
    url = database_url().rsplit("/", 1)[0] + f"/{name}"
    yield url
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_an_empty_database_with_every_row_and_file(
    tmp_path, settings, empty_database
):
    settings.MEDIA_ROOT = tmp_path / "media"
    load_demo()
    snapshot = settings.MEDIA_ROOT / "snapshots" / "page.html"
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes("<html>Архив 存档</html>".encode())
    exports.write_dumps()
    backup = tmp_path / "tracker.tar"

    call_command("backup", str(backup))
    assert backup.stat().st_mode & 0o777 == 0o600  # sessions and second-factor keys inside
    restored_media = tmp_path / "restored"

    def restore(path):
        return subprocess.run(
            manage("restore", str(path)),
            env=child_env(DATABASE_URL=empty_database, MEDIA_ROOT=str(restored_media)),
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )

    # A backup whose database dump was altered is refused before anything is restored.
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(backup) as original, tarfile.open(tampered, "w") as copy:
        for member in original.getmembers():
            data = original.extractfile(member).read()
            if member.name == backups.DATABASE:
                data = data[:-1] + bytes([data[-1] ^ 1])
            copy.addfile(member, io.BytesIO(data))
    refused = restore(tampered)
    assert refused.returncode != 0 and "does not match its SHA-256" in refused.stderr
    with psycopg.connect(empty_database.replace("postgres://", "postgresql://")) as empty:
        assert (
            empty.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[
                0
            ]
            == 0
        )

    result = restore(backup)

    assert result.returncode == 0, result.stderr
    expected = backups.row_counts()
    with psycopg.connect(empty_database.replace("postgres://", "postgresql://")) as restored:
        for table, count in expected.items():
            query = f'SELECT count(*) FROM "{table}"'
            assert restored.execute(query).fetchone()[0] == count, table
    assert expected["sanctions_action"] == 19
    assert _hashes(restored_media) == _hashes(settings.MEDIA_ROOT)
    assert "snapshots/page.html" in _hashes(restored_media)

    # A second restore over the now full database is refused, changing nothing.
    again = restore(backup)
    assert again.returncode != 0 and "not empty" in again.stderr


@pytest.mark.django_db
def test_a_restore_into_a_database_with_tables_is_refused(tmp_path):
    backup = tmp_path / "any.tar"
    backup.write_bytes(b"")
    with pytest.raises(CommandError, match="the database is not empty"):
        call_command("restore", str(backup))
