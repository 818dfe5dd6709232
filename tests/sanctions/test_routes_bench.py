"""The route benchmark (bench/routes_bench.py) covers every public URL pattern."""

import importlib.util
from pathlib import Path

from django.urls import URLResolver, get_resolver

BENCH = Path(__file__).resolve().parents[2] / "bench" / "routes_bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("routes_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _route_names(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith("admin/"):
                continue
            yield from _route_names(pattern.url_patterns, prefix + str(pattern.pattern))
        elif pattern.name and not str(pattern.pattern).startswith("admin/"):
            yield pattern.name


def test_every_public_route_has_a_bench_case():
    bench = _bench()
    public = set(_route_names(get_resolver().url_patterns)) - bench.NOT_BENCHED

    assert public - bench.ROUTES == set(), "routes without a case in bench/routes_bench.py"
    assert bench.ROUTES - public == set(), "bench cases for routes that no longer exist"
