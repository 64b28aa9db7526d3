"""Rows load on the fast path (daira/lib/models.install_fast_row_loading) into the very
instances Django's own path builds."""

import pytest
from django.apps import apps
from django.db import models
from django.db.models.signals import post_init

from accounts.tests.factories import UserFactory
from content import services as content_services
from content.models import Post
from daira.apps import project_app_labels

PROJECT_APPS = project_app_labels()


def _django_built(model, db, values):
    return models.Model.from_db.__func__(model, db, [f.attname for f in model._meta.concrete_fields], values)


def _fields_and_state(instance):
    fields = {k: v for k, v in instance.__dict__.items() if k != "_state"}
    return fields, instance._state.adding, instance._state.db


def test_every_project_model_loads_rows_on_the_fast_path():
    # A model that gains a custom __init__, from_db or a descriptor field stays on Django's
    # path by design; this lists them so that happens on purpose.
    slow = [m._meta.label for m in apps.get_models() if m._meta.app_label in PROJECT_APPS
            and m.from_db.__func__ is models.Model.from_db.__func__]
    assert slow == []
    assert len(PROJECT_APPS) == 10


@pytest.mark.django_db
def test_a_fetched_row_equals_the_instance_djangos_path_builds():
    author = UserFactory()
    post = content_services.post_create(author=author, body="سلام 7elw")
    row = Post.objects.filter(pk=post.pk).values_list(*[f.attname for f in Post._meta.concrete_fields]).get()

    fetched = Post.objects.get(pk=post.pk)

    assert _fields_and_state(fetched) == _fields_and_state(_django_built(Post, "default", list(row)))
    assert _fields_and_state(fetched)[1:] == (False, "default")
    # and: it behaves as a model instance: related access, saving, equality
    assert fetched.author == author and fetched == post
    fetched.body = "edited"
    fetched.save(update_fields=["body"])
    assert Post.objects.get(pk=post.pk).body == "edited"


@pytest.mark.django_db
def test_select_related_and_deferred_rows_load_as_before():
    author = UserFactory(handle="loader")
    post = content_services.post_create(author=author, body="hello")

    joined = Post.objects.select_related("author").get(pk=post.pk)
    assert joined.author.handle == "loader" and joined.author._state.adding is False

    deferred = Post.objects.only("id", "body").get(pk=post.pk)  # a short row
    row = [post.pk, "hello"]
    assert _fields_and_state(deferred) == _fields_and_state(
        models.Model.from_db.__func__(Post, "default", ["id", "body"], row))
    assert deferred.get_deferred_fields() >= {"author_id", "audience"}
    assert deferred.author_id == author.pk  # loaded on access
    # and: a short row across a join (the feed's card query defers most of the author)
    joined = Post.objects.select_related("author").only("id", "author__handle").get(pk=post.pk)
    assert joined.author.handle == "loader" and "email" in joined.author.get_deferred_fields()


@pytest.mark.django_db
def test_a_post_init_receiver_is_honoured():
    post = content_services.post_create(author=UserFactory(), body="hello")
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_init.connect(receiver, sender=Post)
    try:
        Post.objects.get(pk=post.pk)
    finally:
        post_init.disconnect(receiver, sender=Post)
    assert seen == [post.pk]
