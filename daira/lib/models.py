"""Model base classes."""

from django.db import models
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

from daira.lib import ids


class SnowflakeIdField(models.BigIntegerField):
    """A bigint primary key filled with a time-ordered snowflake id on creation."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("primary_key", True)
        kwargs.setdefault("default", ids.next_id)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, path, args, kwargs


class SnowflakeModel(models.Model):
    id = SnowflakeIdField()

    class Meta:
        abstract = True


class TimeStampedModel(SnowflakeModel):
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


# --- Loading rows -------------------------------------------------------------------------
# Django builds every fetched row through Model.__init__: a pre_init and a post_init signal
# send and one setattr per field (about 9 µs for a 38-field Post, ~65 instances on a feed
# page). For a full row of a plain model that is the same as filling the instance's __dict__,
# which takes about 2.5 µs. `install_fast_row_loading` gives our models that path.
_PLAIN_FIELD_ATTRIBUTES = (DeferredAttribute, ForeignKeyDeferredAttribute)


def _loads_rows_plainly(model: type[models.Model]) -> bool:
    """True when building `model` from a full row is only setting each field's attname:
    Django's own __init__ and from_db, and no field whose attribute does more on assignment
    (a FileField's descriptor, a custom descriptor)."""
    return (
        model.__init__ is models.Model.__init__
        and model.from_db.__func__ is models.Model.from_db.__func__
        and all(type(model.__dict__.get(field.attname, getattr(model, field.attname, None))) in _PLAIN_FIELD_ATTRIBUTES
                for field in model._meta.concrete_fields)
    )


def _fast_from_db(model: type[models.Model]) -> classmethod:
    attnames = tuple(field.attname for field in model._meta.concrete_fields)
    django_from_db = models.Model.from_db.__func__

    def from_db(cls, db, field_names, values):
        # Django's path when anything could differ: a subclass or proxy, or a pre_init or
        # post_init receiver anywhere (checked per call, so one connected later is honoured).
        if cls is not model or pre_init.receivers or post_init.receivers:
            return django_from_db(cls, db, field_names, values)
        instance = cls.__new__(cls)
        # A full row is in concrete-field order (Django's own assumption); a short one (only(),
        # defer()) has exactly `field_names`, and the fields it lacks stay deferred.
        instance.__dict__.update(zip(attnames if len(values) == len(attnames) else field_names, values))
        state = instance._state = ModelState()
        state.adding = False
        state.db = db
        return instance

    return classmethod(from_db)


def install_fast_row_loading(app_labels: set[str]) -> None:
    """Give every plain model of `app_labels` the fast `from_db` (called once, from
    DairaConfig.ready, after every model is loaded); the others keep Django's."""
    from django.apps import apps

    for model in apps.get_models():
        if model._meta.app_label in app_labels and _loads_rows_plainly(model):
            model.from_db = _fast_from_db(model)
