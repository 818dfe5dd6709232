from django.apps import AppConfig


class SanctionsConfig(AppConfig):
    name = "sanctions"
    verbose_name = "Sanctions records"

    def ready(self):
        from . import lookups  # noqa: F401 (registers field__any)
