"""PostgreSQL on the embedded server (sanctions/embedded_db.py), started when the first
connection needs it.

Settings name this backend when DATABASE_URL is unset, so importing them starts
nothing: `manage.py check` or `makemigrations --check` run without a server, and the
first query (of a page, a command or the tests) starts or reuses it. Its socket folder
is then written into the connection's settings (HOST) for what reads them later, such
as the backup commands.
"""

from pathlib import Path

from django.db.backends.postgresql import base

from sanctions.embedded_db import database_settings


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        if not self.settings_dict["HOST"]:
            started = database_settings(Path(self.settings_dict["EMBEDDED_DATA_DIR"]))
            self.settings_dict["HOST"] = started["HOST"]
        return super().get_connection_params()
