from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView, TemplateView
from drf_spectacular.views import SpectacularSwaggerSplitView

from . import api, exports, feeds, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("actions/", views.action_list, name="action_list"),
    path("actions/<int:pk>/", views.action_detail, name="action_detail"),
    path("actions/<int:pk>/history/", views.action_history, name="action_history"),
    path("actions/<int:pk>/cite.<str:fmt>", views.action_cite, name="action_cite"),
    path("entities/", views.entity_list, name="entity_list"),
    path("entities/<int:pk>/", views.entity_detail, name="entity_detail"),
    path("entities/<int:pk>/history/", views.entity_history, name="entity_history"),
    path("entities/<int:pk>/cite.<str:fmt>", views.entity_cite, name="entity_cite"),
    path("articles/", views.article_list, name="article_list"),
    path("search/", views.search, name="search"),
    path("about/", views.about, name="about"),
    path("snapshots/<int:pk>/", views.snapshot_download, name="snapshot_download"),
    path("feeds/actions.atom", feeds.ActionFeed(), name="action_feed"),
    path("feeds/entities/<int:pk>.atom", feeds.EntityActionFeed(), name="entity_feed"),
]

# E-mail alerts (sanctions/alerts.py); a token is the subscriber's secret key.
urlpatterns += [
    path("alerts/", views.alerts_index, name="alerts"),
    path("alerts/subscribe/", views.alert_subscribe, name="alert_subscribe"),
    path("alerts/confirm/<slug:token>/", views.alert_confirm, name="alert_confirm"),
    path("alerts/unsubscribe/<slug:token>/", views.alert_unsubscribe, name="alert_unsubscribe"),
    path("alerts/<slug:token>/", views.alert_manage, name="alert_manage"),
]

# What crawlers and browsers ask every site for.
urlpatterns += [
    path(
        "robots.txt",
        TemplateView.as_view(template_name="robots.txt", content_type="text/plain; charset=utf-8"),
        name="robots_txt",
    ),
    path("favicon.ico", RedirectView.as_view(url=static("sanctions/favicon.svg")), name="favicon"),
]

# The public API and its OpenAPI 3 description (sanctions/api.py).
urlpatterns += [
    path("api/v1/", include(api.router.urls)),
    path("api/schema/", api.SchemaView.as_view(), name="api_schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api_schema", throttle_classes=[]),
        name="api_docs",
    ),
]

# Bulk exports: the dataset index, live filtered streams and the periodic full dumps.
urlpatterns += [
    path("exports/", exports.index, name="exports"),
    path("exports/<str:name>", exports.download, name="export_download"),
]
