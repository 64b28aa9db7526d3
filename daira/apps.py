from django.apps import AppConfig


class DairaConfig(AppConfig):
    name = "daira"
    verbose_name = "DAIRA platform"

    def ready(self) -> None:
        from daira import tracing

        tracing.configure()
