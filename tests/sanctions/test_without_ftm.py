"""Where PyICU cannot be built, followthemoney and rigour are not installed (`make
install` says so in one line): the tracker runs without them, but for the FtM export and
import."""

import subprocess
import sys
from pathlib import Path

# Run in a fresh interpreter where importing FtM, rigour or PyICU fails as it does when
# they are not installed.
SCRIPT = """
import importlib, pkgutil, sys

for name in ("followthemoney", "rigour", "normality", "icu"):
    sys.modules[name] = None

import django

django.setup()

import sanctions

FTM_MODULES = {"sanctions.ftm_mapping", "sanctions.importers.ftm"}
for module in pkgutil.walk_packages(sanctions.__path__, "sanctions."):
    if module.name not in FTM_MODULES and ".migrations." not in module.name:
        importlib.import_module(module.name)
importlib.import_module("tracker.urls")

from django.core.management import CommandError, call_command

from sanctions import countries, exports

print("exports:", " ".join(sorted(exports.EXPORTS)))
print("countries:", countries.country_name("PK"), countries.country_code("Korea, North"))
try:
    call_command("import_list", "ftm", sys.argv[1])
except CommandError as error:
    print("ftm import:", error)
"""


def test_everything_but_the_ftm_export_and_import_runs_without_followthemoney(tmp_path):
    entities = tmp_path / "entities.ftm.json"
    entities.write_text('{"id": "x", "schema": "Company", "properties": {}}\n')

    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(entities)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )

    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["exports"] == "actions.csv actions.json entities.csv record.json"
    assert lines["countries"] == "Pakistan KP"
    assert "needs followthemoney" in lines["ftm import"]
    assert "requirements-ftm.lock" in lines["ftm import"]
