"""Model base classes."""

from django.db import models

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
