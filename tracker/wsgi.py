"""WSGI entry point for gunicorn: ``gunicorn tracker.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
# A page's statements take milliseconds; one running for half a minute is stuck, and
# ends rather than hold a server thread (live exports lift it for their one long COPY).
os.environ.setdefault("DB_STATEMENT_TIMEOUT", "30")

application = get_wsgi_application()
