"""Hot read queries compiled once per process and run as Postgres prepared statements.

Why: on the screens opened most (a feed page, an authenticated request) the same model query
runs thousands of times a minute with new values. Django builds its SQL anew each time
(about 1 ms of Python for a card page with the policy's facts), and with Django's default
client-side binding the values are inlined, so Postgres parses and plans it anew too (about
1.6 ms for that page's 4.6 KB statement). A `PreparedQuery` compiles the queryset once
per process with placeholder values, then runs the SAME text with the new values through a
server-side prepared statement on Django's connection (same transaction), and builds the
model instances with Django's own machinery (from_db, select_related populators,
converters, annotations), so callers get exactly what iterating the queryset would give.

The queryset's *shape* must not depend on the values: the builder receives `Slots` and
must use `slots.value(name)` wherever a value goes (`Q(author_id=slots.value("viewer"))`,
`RawSQL("... = ANY(%s::bigint[])", [slots.value("ids")])`). Different shapes (a logged-out
viewer's rule is another Q) are different `variant`s, each compiled on first use. A value
that Django would expand into the SQL (an `__in` list) must go through an array parameter
as above: `compile` refuses a builder whose parameters do not hold every slot exactly.

Executed queries appear in `connection.queries` (so assertNumQueries and
CaptureQueriesContext still count them); database errors are Django's (`wrap_database_errors`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import psycopg
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from psycopg import pq

_TUPLES_OK = pq.ExecStatus.TUPLES_OK

# Placeholder ints no column can hold a value equal to (ids are positive snowflakes).
_INT_SLOT_BASE = -(1 << 62)
# For small-integer columns: Django compiles a lookup whose value is outside the column's
# range to "no rows" (or "all rows"), so their placeholders sit at the top of the range
# that both SmallIntegerField and PositiveSmallIntegerField accept.
_SMALL_INT_SLOT_TOP = (1 << 15) - 1


class Slots:
    """Hands out one placeholder per named value while a builder runs."""

    def __init__(self) -> None:
        self.by_name: dict[str, Any] = {}

    def value(self, name: str, *, array: bool = False, small: bool = False) -> Any:
        """The placeholder for `name`: an int sentinel, or a list sentinel (matched by identity)
        with `array=True` for values bound as one array parameter. `small=True` for a
        SmallIntegerField (or PositiveSmallIntegerField) value: its sentinel fits that range
        (32767 downwards), so the query must not also hold such a constant."""
        if name not in self.by_name:
            if array:
                self.by_name[name] = []
            else:
                base = _SMALL_INT_SLOT_TOP if small else _INT_SLOT_BASE
                self.by_name[name] = base - len(self.by_name)
        return self.by_name[name]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # For each parameter: ("slot", name) or ("const", value).
    params: tuple[tuple[str, Any], ...]
    model: type[Model]
    init_list: list[str]
    fields_start: int
    fields_end: int
    klass_info: dict
    select: list
    annotation_col_map: dict[str, int]
    converters: dict[int, tuple[list, Any]]
    populators: list  # Django's select_related populators: stateless across rows and runs
    db: str


class PreparedQuery:
    """`PreparedQuery(build)`; `query.run(variant, name=value, ...) -> list of model instances`.

    `build(variant, slots) -> QuerySet` returns a queryset of model instances (not
    `.values()`), whose values all come from `slots`; it is called once per variant per
    process. Instances are what `list(build(variant, real values))` would return."""

    def __init__(self, build: Callable[[Hashable, Slots], QuerySet], *, using: str = "default") -> None:
        self._build = build
        self._using = using
        self._compiled: dict[Hashable, _Compiled] = {}
        self._lock = threading.Lock()

    def queryset(self, variant: Hashable, **values) -> QuerySet:
        """The plain Django queryset for these values (the reference the tests compare with)."""
        return self._build(variant, _FixedSlots(values))

    def compile(self, variant: Hashable) -> _Compiled:
        compiled = self._compiled.get(variant)
        if compiled is not None:
            return compiled
        with self._lock:
            compiled = self._compiled.get(variant)
            if compiled is None:
                compiled = self._compiled[variant] = self._compile(variant)
        return compiled

    def _compile(self, variant: Hashable) -> _Compiled:
        slots = Slots()
        queryset = self._build(variant, slots)
        compiler = queryset.query.get_compiler(using=self._using)
        try:
            sql, raw_params = compiler.as_sql()
        except EmptyResultSet:
            raise ValueError("the queryset compiled to nothing: an array slot given to __in? bind it as one "
                             "array parameter (RawSQL '= ANY(%s)'). A slot on a small integer column? "
                             "use slots.value(name, small=True)") from None
        int_slots = {v: name for name, v in slots.by_name.items() if isinstance(v, int)}
        list_slots = {id(v): name for name, v in slots.by_name.items() if isinstance(v, list)}
        params: list[tuple[str, Any]] = []
        used: set[str] = set()
        for param in raw_params:
            if isinstance(param, list) and id(param) in list_slots:
                name = list_slots[id(param)]
            elif isinstance(param, int) and not isinstance(param, bool) and param in int_slots:
                name = int_slots[param]
            else:
                if isinstance(param, list | tuple) and any(p in int_slots for p in param if isinstance(p, int)):
                    raise ValueError("a slot was expanded into a list: bind it as an array (slots.value(..., array=True))")
                params.append(("const", param))
                continue
            params.append(("slot", name))
            used.add(name)
        missing = set(slots.by_name) - used
        if missing:
            raise ValueError(f"slots not found among the query's parameters: {sorted(missing)}")
        if compiler.has_extra_select or compiler.klass_info is None:
            raise ValueError("PreparedQuery takes model querysets without extra(select=...)")
        select, klass_info = compiler.select, compiler.klass_info
        select_fields = klass_info["select_fields"]
        start, end = select_fields[0], select_fields[-1] + 1
        return _Compiled(
            sql=sql,
            params=tuple(params),
            model=klass_info["model"],
            init_list=[f[0].target.attname for f in select[start:end]],
            fields_start=start,
            fields_end=end,
            klass_info=klass_info,
            select=select,
            annotation_col_map=dict(compiler.annotation_col_map or {}),
            converters=compiler.get_converters([s[0] for s in select[: compiler.col_count]]),
            populators=get_related_populators(klass_info, select, self._using),
            db=self._using,
        )

    def run(self, variant: Hashable, **values) -> list[Model]:
        compiled = self.compile(variant)
        params = [values[v] if kind == "slot" else v for kind, v in compiled.params]
        connection = connections[compiled.db]
        rows = execute_prepared(compiled.sql, params, using=compiled.db)
        if compiled.converters:
            rows = [list(row) for row in rows]
            for row in rows:
                for pos, (converters, expression) in compiled.converters.items():
                    value = row[pos]
                    for converter in converters:
                        value = converter(value, expression, connection)
                    row[pos] = value
        populators = compiled.populators
        out = []
        start, end, init_list, model, db = (compiled.fields_start, compiled.fields_end, compiled.init_list,
                                            compiled.model, compiled.db)
        for row in rows:
            obj = model.from_db(db, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for attr_name, col_pos in compiled.annotation_col_map.items():
                setattr(obj, attr_name, row[col_pos])
            out.append(obj)
        return out


class _FixedSlots(Slots):
    """Slots that hand out the real values (the plain-queryset path)."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__()
        self._values = values

    def value(self, name: str, *, array: bool = False, small: bool = False) -> Any:
        return self._values[name]


def execute_prepared(sql: str, params: list[Any], *, using: str = "default") -> list[tuple]:
    """Run a constant SQL text (%s placeholders) as a server-side prepared statement on
    Django's connection `using`, in the caller's transaction; returns its rows ([] when it
    returns none). Logged in `connection.queries`; errors are Django's. For hot raw writes
    whose text never changes (the ledger's transfer statement)."""
    connection = connections[using]
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        # Server-side binding + prepare: Postgres parses and plans this text once per
        # connection; Django's own cursors inline values (client-side binding).
        cursor.execute(sql, params, prepare=True)
        # Not `cursor.description is not None`: that builds a Column object per column
        # (about 100 per feed page, 5% of its CPU) just to ask whether rows came back.
        result = cursor.pgresult
        rows = cursor.fetchall() if result is not None and result.status == _TUPLES_OK else []
    if connection.queries_logged:
        connection.queries_log.append({
            "sql": f"/* prepared */ {sql} -- {params!r}",
            "time": f"{time.monotonic() - started:.3f}",
        })
    return rows
