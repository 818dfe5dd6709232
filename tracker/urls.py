from django.contrib import admin
from django.urls import include, path

from sanctions.accounts import two_factor

urlpatterns = [
    path("admin/2fa/", two_factor, name="two_factor"),
    path("admin/", admin.site.urls),
    path("", include("sanctions.urls")),
]
