from django.apps import AppConfig


def project_app_labels() -> set[str]:
    """Our apps: "daira" and every app after it in INSTALLED_APPS (settings.py)."""
    from django.conf import settings

    return set(settings.INSTALLED_APPS[settings.INSTALLED_APPS.index("daira"):])


class DairaConfig(AppConfig):
    name = "daira"
    verbose_name = "DAIRA platform"

    def ready(self) -> None:
        from daira import tracing
        from daira.lib.models import install_fast_row_loading

        tracing.configure()
        install_fast_row_loading(project_app_labels())
