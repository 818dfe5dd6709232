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
# and a page makes thousands of objects that die with it, so the youngest generation is
# collected after 10,000 allocations rather than 700.
# Not after many more: a collection walks every object made since the last, and what a
# page leaves in reference cycles (a template's context, DRF's view and request) waits
# for it. At 50,000 a collection took 20-50 ms, and with the public routes asked in turn
# (bench/routes_bench.py) it fell on the same pages: their p95 was 80-130 ms, 30-60 ms
# at 10,000, with the same medians.
gc.freeze()
gc.set_threshold(10_000, 20, 20)
