from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "social"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Plug into accounts (which never imports social): relationship flags on profiles,
        # blocks hide profiles, the graph goes into data exports, and account purges fix
        # everyone else's counts. Registering twice is a no-op (see accounts.registry).
        from accounts import registry
        from social import hooks

        registry.register_profile_extra(hooks.profile_extra)
        registry.register_profile_access_check(hooks.profile_access_check)
        registry.register_export_section("social", hooks.export_section)
        registry.register_deletion_hook(hooks.deletion_hook)
