from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "content"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Plug into accounts (which never imports content): the user's posts go into their
        # data export; before a purge, its reactions/comments/reposts/saves leave everyone
        # else's counters (the rows themselves cascade with the user row).
        from accounts import registry
        from content import hooks

        registry.register_export_section("posts", hooks.export_posts)
        registry.register_deletion_hook(hooks.deletion_hook)

        # Reports: one may report only content one can see (else any id could be pulled
        # in front of moderators, and existence would leak).
        from moderation import targets

        targets.access_check_set("post", hooks.can_report_post)
        targets.access_check_set("comment", hooks.can_report_comment)
        targets.access_check_set("story", hooks.can_report_story)
