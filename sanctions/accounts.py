"""A second factor for staff: TOTP from an authenticator app, with recovery codes.

Reviewers and superusers must verify one on every admin session; editors may set one
up, and must once they have one, or always when TWO_FACTOR_FOR_EDITORS is set.
TWO_FACTOR_REQUIRED=false (a local run) turns the requirement off.
"""

import base64
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODES = 10


def needs_second_factor(user) -> bool:
    """Whether this staff member's admin session must be verified with a second factor."""
    if not settings.TWO_FACTOR_REQUIRED:
        return False
    return (
        user.is_superuser
        or user.has_perm("sanctions.publish_action")
        # Whoever may change accounts may make themselves a reviewer.
        or user.has_perm("auth.change_user")
        or user.has_perm("auth.change_group")
        or settings.TWO_FACTOR_FOR_EDITORS
        or user_has_device(user)
    )


class TwoFactorMiddleware:
    """Send a staff member who needs a second factor, and has not given one this
    session, to set one up or to give it before any other admin page."""

    OPEN = ("two_factor", "admin:logout", "admin:login", "admin:jsi18n")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            request.path.startswith(reverse("admin:index"))
            and user.is_authenticated
            and user.is_staff
            and not user.is_verified()
            and request.path not in {reverse(name) for name in self.OPEN}
            and needs_second_factor(user)
        ):
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('two_factor')}?{query}")
        return self.get_response(request)


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code", max_length=16, widget=forms.TextInput(attrs={"autocomplete": "one-time-code"})
    )


@login_required(login_url="admin:login")
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Give the second factor, or set one up when the account has none."""
    user = request.user
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        next_url = reverse("admin:index")
    form = TokenForm(request.POST or None)
    context = {"form": form, "next": next_url, "title": "Second factor"}
    if user_has_device(user):
        if form.is_valid():
            device = match_token(user, form.cleaned_data["token"].replace(" ", ""))
            if device is not None:
                otp_login(request, device)
                return redirect(next_url)
            form.add_error("token", "That code is not right, or was used already.")
        return render(request, "admin/two_factor.html", context)

    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    if form.is_valid() and device.verify_token(form.cleaned_data["token"].replace(" ", "")):
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        recovery = StaticDevice.objects.create(user=user, name="Recovery codes")
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        recovery.token_set.bulk_create(StaticToken(device=recovery, token=c) for c in codes)
        otp_login(request, device)
        return render(request, "admin/two_factor.html", {**context, "codes": codes})
    if form.is_bound and not form.errors:
        form.add_error("token", "That code is not right: check the app's clock and try again.")
    key = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "admin/two_factor.html",
        {**context, "setup": True, "key": key, "config_url": device.config_url},
    )
