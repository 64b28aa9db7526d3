from django.apps import AppConfig


class DairaConfig(AppConfig):
    name = "daira"
    verbose_name = "DAIRA platform"

    def ready(self) -> None:
        from django.conf import settings

        from daira import tracing
        from daira.lib.models import install_fast_row_loading

        tracing.configure()
        # Our apps are "daira" and every app after it in INSTALLED_APPS (settings.py).
        install_fast_row_loading(set(settings.INSTALLED_APPS[settings.INSTALLED_APPS.index("daira"):]))
