"""A database that accepts connections but never answers: the web server stays up."""

import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from .processes import BASE_DIR, child_env


class Tarpit:
    """A TCP server on 127.0.0.1 that accepts every connection and never says a word."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self):
        self.server.close()
        for connection in self.held:
            connection.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, timeout: float = 30) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.monotonic() - started


def test_a_database_that_never_answers_gives_503_in_seconds_and_static_files_still_load(
    tmp_path,
):
    tarpit = Tarpit()
    static_root = tmp_path / "static"
    env = child_env(
        DATABASE_URL=f"postgres://tracker@127.0.0.1:{tarpit.port}/tracker",
        STATIC_ROOT=str(static_root),
    )
    subprocess.run(
        [str(BASE_DIR / ".venv" / "bin" / "python"), "manage.py", "collectstatic", "--noinput"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    server = subprocess.Popen(
        [
            str(BASE_DIR / ".venv" / "bin" / "gunicorn"),
            "tracker.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(f"{base}/static/sanctions/site.css", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)

        results = {}

        def health(n):
            results[n] = _get(f"{base}/healthz")

        probes = [threading.Thread(target=health, args=(n,)) for n in range(3)]
        for probe in probes:
            probe.start()
        static = _get(f"{base}/static/sanctions/site.css")
        for probe in probes:
            probe.join()

        assert static[0] == 200 and static[1] < 2
        for status, seconds in results.values():
            assert status == 503 and seconds < 5, results
    finally:
        server.terminate()
        server.wait(timeout=10)
        tarpit.close()


@pytest.mark.django_db
def test_a_web_process_ends_a_stuck_statement(settings):
    """wsgi.py sets DB_STATEMENT_TIMEOUT for web processes; this runs one with it."""
    script = (
        "import tracker.wsgi\n"
        "from django.db import connection, OperationalError\n"
        "try:\n"
        "    connection.cursor().execute('SELECT pg_sleep(5)')\n"
        "except OperationalError as exc:\n"
        "    print('stopped:', exc)\n"
    )
    started = time.monotonic()
    result = subprocess.run(
        [str(BASE_DIR / ".venv" / "bin" / "python"), "-c", script],
        cwd=BASE_DIR,
        env=child_env(DB_STATEMENT_TIMEOUT="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "stopped: canceling statement due to statement timeout" in result.stdout, result
    assert time.monotonic() - started < 5
