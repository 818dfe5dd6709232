"""A second factor for staff: set up, verify, recovery codes, and who must have one."""

import re

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from .factories import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _second_factor_on(settings):
    settings.TWO_FACTOR_REQUIRED = True


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def code(device) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):0{device.digits}d}"


def test_a_reviewer_sets_up_an_authenticator_and_gets_recovery_codes():
    reviewer = make_staff("reviewer1", "reviewer")
    client = signed_in(reviewer)

    first = client.get("/admin/sanctions/action/")
    assert first.status_code == 302
    assert first["Location"].startswith("/admin/2fa/?next=")
    setup = client.get(first["Location"])
    assert "Key:" in setup.content.decode() and "otpauth://totp/" in setup.content.decode()
    device = TOTPDevice.objects.get(user=reviewer, confirmed=False)

    done = client.post("/admin/2fa/", {"token": code(device), "next": "/admin/"})

    codes = re.findall(r"<li><code>(\w+)</code></li>", done.content.decode())
    assert len(codes) == 10
    assert client.get("/admin/sanctions/action/").status_code == 200

    # The next session asks for the second factor; a recovery code works once.
    later = signed_in(reviewer)
    assert later.get("/admin/").status_code == 302
    assert later.post("/admin/2fa/", {"token": codes[0]}).status_code == 302
    assert later.get("/admin/").status_code == 200
    again = signed_in(reviewer)
    refused = again.post("/admin/2fa/", {"token": codes[0]})
    assert "not right, or was used already" in refused.content.decode()
    assert again.get("/admin/").status_code == 302


def test_who_must_give_a_second_factor(settings):
    superuser = signed_in(
        make_staff("root1", "reviewer").__class__.objects.create_superuser("root", password="x")
    )
    editor = signed_in(make_staff("editor1", "editor"))

    assert superuser.get("/admin/").status_code == 302
    assert editor.get("/admin/").status_code == 200  # optional for editors by default
    settings.TWO_FACTOR_FOR_EDITORS = True
    assert editor.get("/admin/").status_code == 302
    settings.TWO_FACTOR_FOR_EDITORS = False
    settings.TWO_FACTOR_REQUIRED = False  # a local run (make run)
    assert superuser.get("/admin/").status_code == 200


def test_an_editor_who_set_up_a_second_factor_must_give_it():
    editor = make_staff("editor1", "editor")
    TOTPDevice.objects.create(user=editor, name="app", confirmed=True)
    assert signed_in(editor).get("/admin/").status_code == 302
