from django.apps import AppConfig


class WalletConfig(AppConfig):
    name = "wallet"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Plug into lower apps, which never import wallet (DESIGN.md dependency direction):
        # - social's visibility policy gets the "subscribers" audiences (any tier; and a minimum
        #   tier 2 or 3 as "subscribers_t2" / "subscribers_t3");
        # - accounts gets the wallet export section, profile badges and the deletion hook that
        #   keeps money records, anonymised.
        from accounts import registry
        from social import policy
        from wallet import hooks

        for name, level in hooks.SUBSCRIBER_AUDIENCES.items():
            policy.register_audience_rule(name, hooks.audience_predicate(level), hooks.audience_q(level))
        registry.register_export_section("wallet", hooks.export_section)
        registry.register_profile_extra(hooks.profile_extra)
        registry.register_deletion_hook(hooks.deletion_hook)
