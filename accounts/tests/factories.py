"""Test data for accounts."""

import factory

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    handle = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.handle}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Through the manager, so every user gets its Profile and UserSettings rows.
        handle = kwargs.pop("handle")
        password = kwargs.pop("password", None)
        return model_class.objects.create_user(handle, password, **kwargs)


def login_for(user: User, *, device_name: str = "tests", ip: str = "127.0.0.1"):
    """A real login result (device session + token pair) for `user`, as the login service makes it."""
    from accounts.services import ClientInfo, session_create

    return session_create(user=user, client=ClientInfo(ip=ip, device_name=device_name, user_agent="pytest"))


def access_token_for(user: User) -> str:
    """An access token for `user`, issued through a real device session."""
    return login_for(user).tokens.access
