from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Plug into lower apps, which never import messaging: a message is reportable only by
        # someone in its conversation, and a data export includes the user's messages.
        from accounts import registry
        from messaging import hooks
        from moderation import targets

        targets.access_check_set("message", hooks.message_access_check)
        registry.register_export_section("messages", hooks.export_section)
