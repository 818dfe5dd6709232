import os

import pytest


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Give each test run its own database, so two runs on one server don't collide."""
    from django.conf import settings

    default = settings.DATABASES["default"]
    default.setdefault("TEST", {})["NAME"] = f"test_{default['NAME']}_{os.getpid()}"
    # The live server's request threads must not keep connections that block teardown.
    default["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_second_factor(settings):
    """Staff sign in with force_login here; tests/sanctions/test_accounts.py turns the
    second factor on and tests it."""
    settings.TWO_FACTOR_REQUIRED = False


@pytest.fixture(autouse=True)
def _no_page_cache(settings):
    """Views are tested as they answer; tests/sanctions/test_caching.py turns the page
    cache on and tests it."""
    settings.PAGE_CACHE = ""
