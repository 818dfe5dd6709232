"""WSGI entry point for gunicorn: ``gunicorn tracker.wsgi``."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
# A page's statements take milliseconds; one running for half a minute is stuck, and
# ends rather than hold a server thread (live exports lift it for their one long COPY).
os.environ.setdefault("DB_STATEMENT_TIMEOUT", "30")

application = get_wsgi_application()

# What start-up made (modules, URL patterns, settings) lives as long as the process:
# frozen out of the collector's sight, a full collection scans only what requests made
# (150 ms -> 40 ms in a process serving the full-size record).
gc.freeze()
