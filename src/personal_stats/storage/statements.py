"""Every read statement, declared once from the SQLModel tables and compiled for each
engine's driver: positional SQL plus the order of its parameters. Timestamps leave the
database as whole epoch seconds, converted by the engine."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Table,
    bindparam,
    case,
    cast,
    column,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ColumnElement, Select

from personal_stats.storage.base import COMPLETED
from personal_stats.storage.feed import EVERY_MENTOR
from personal_stats.storage.models import (
    Activity,
    ActivityChange,
    ActivityType,
    DataVersion,
    InstantChange,
    Mentor,
    table_of,
)

ACTIVITY: Table = table_of(Activity)
MENTOR: Table = table_of(Mentor)
ACTIVITY_TYPE: Table = table_of(ActivityType)
DATA_VERSION: Table = table_of(DataVersion)
ACTIVITY_CHANGE: Table = table_of(ActivityChange)
INSTANT_CHANGE: Table = table_of(InstantChange)
_a, _m, _t, _v = ACTIVITY.c, MENTOR.c, ACTIVITY_TYPE.c, DATA_VERSION.c
_c, _i = ACTIVITY_CHANGE.c, INSTANT_CHANGE.c


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[str, ...]
    constants: dict[str, Any]

    def args(self, **values: Any) -> tuple[Any, ...]:
        """The positional parameters: the values given, and the statement's own constants."""
        return tuple(values[n] if n in values else self.constants[n] for n in self.params)


@dataclass(frozen=True)
class Statements:
    """The read statements of one engine."""

    data_version: Statement
    mentors: Statement
    activities: Statement
    first_activity: Statement
    completed_before: Statement
    milestones: Statement
    completed_counts: Statement
    mentor_count: Statement
    activity_types: Statement
    completed_instants: Statement
    completed_instants_of: Statement
    everyone_changed: Statement
    instant_changes: Statement
    changes_after: Statement
    mentor_changed: Statement


def _epoch_second(dialect: str, started_at: ColumnElement[Any]) -> ColumnElement[int]:
    if dialect == "sqlite":
        return cast(func.strftime("%s", started_at), Integer)
    return cast(func.floor(func.extract("epoch", started_at)), BigInteger)


def _ids(dialect: str, column_: ColumnElement[str]) -> ColumnElement[bool]:
    """`column_` among the ids passed as one parameter: a JSON array on SQLite, an array on
    PostgreSQL (one statement for any number of ids)."""
    if dialect == "sqlite":
        values: Select[Any] = select(column("value")).select_from(func.json_each(bindparam("ids")))
        return column_.in_(values)
    return column_ == func.any(bindparam("ids", type_=postgresql.ARRAY(String)))


def _positions(dialect: str, column_: ColumnElement[int]) -> ColumnElement[bool]:
    """`column_` among the whole numbers passed as one parameter (as `_ids`)."""
    if dialect == "sqlite":
        values: Select[Any] = select(column("value")).select_from(
            func.json_each(bindparam("positions"))
        )
        return column_.in_(values)
    return column_ == func.any(bindparam("positions", type_=postgresql.ARRAY(BigInteger)))


def _no_index(column_: ColumnElement[str]) -> ColumnElement[str]:
    """The column as an expression that no index serves (`status || ''`): beside a filter
    on the mentor, a filter on the status would let the planner of a database without
    statistics take the status index and walk every mentor's completed activities."""
    return column_.concat("")


def _milestones(dialect: str) -> Select[Any]:
    """The mentor's completed activities before `end` at the given positions, in the order
    of started_at, then id in code-point order (PostgreSQL's "C" collation; SQLite compares
    text by its bytes). The position is a running count of completed rows over all the
    mentor's rows: a filter on the status beside the mentor's would let the planner take
    the status index and walk every mentor's completed rows; the status is filtered outside,
    where it cannot be pushed below the running count. Only the rows kept have their instant
    converted."""
    by_id = _a.id if dialect == "sqlite" else _a.id.collate("C")
    completed = case((_a.status == COMPLETED, 1), else_=0)
    ranked = (
        select(
            func.sum(completed)
            .over(order_by=(_a.started_at, by_id), rows=(None, 0))
            .label("position"),
            _a.status.label("status"),
            _a.started_at.label("started_at"),
            _a.id.label("id"),
        )
        .where(_a.mentor_id == bindparam("mentor_id"), _a.started_at < bindparam("end"))
        .subquery()
    )
    second = _epoch_second(dialect, ranked.c.started_at)
    return select(ranked.c.position, second, ranked.c.id).where(
        ranked.c.status == COMPLETED, _positions(dialect, ranked.c.position)
    )


def _declare(dialect: str) -> dict[str, Select[Any]]:
    second = _epoch_second(dialect, _a.started_at)
    in_range = (
        _a.mentor_id == bindparam("mentor_id"),
        _a.started_at >= bindparam("start"),
        _a.started_at < bindparam("end"),
    )
    return {
        "data_version": select(_v.version, _epoch_second(dialect, _v.changed_at)).where(_v.id == 1),
        "mentors": select(_m.id, _m.name, _m.timezone).where(_ids(dialect, _m.id)),
        "activities": select(
            second, _a.status == COMPLETED, _a.duration_minutes, _a.activity_type_id
        ).where(*in_range),
        "first_activity": select(_epoch_second(dialect, func.min(_a.started_at))).where(
            _a.mentor_id == bindparam("mentor_id")
        ),
        "completed_before": select(second)
        .where(
            _a.mentor_id == bindparam("mentor_id"),
            _no_index(_a.status) == COMPLETED,
            _a.started_at < bindparam("end"),
        )
        .order_by(_a.started_at.desc())
        .limit(bindparam("limit", type_=Integer)),
        "milestones": _milestones(dialect),
        "completed_counts": select(func.count())
        .where(
            _a.status == COMPLETED,
            _a.started_at >= bindparam("start"),
            _a.started_at < bindparam("end"),
        )
        .group_by(_a.mentor_id),
        "mentor_count": select(func.count()).select_from(MENTOR),
        "activity_types": select(_t.id, _t.code, _t.name),
        "completed_instants": select(_a.mentor_id, second).where(
            _a.status == literal_column(f"'{COMPLETED}'")
        ),
        "completed_instants_of": select(_a.mentor_id, second).where(
            _a.status == COMPLETED, _ids(dialect, _a.mentor_id)
        ),
        "everyone_changed": select(func.count()).where(
            _c.version > bindparam("since", type_=Integer), _c.mentor_id == EVERY_MENTOR
        ),
        "instant_changes": select(_i.mentor_id, _i.second, _i.delta).where(
            _i.version > bindparam("since", type_=Integer)
        ),
        "changes_after": select(_c.version, _c.mentor_id, _c.erased_at.is_not(None))
        .where(_c.version > bindparam("since", type_=Integer))
        .order_by(_c.version),
        "mentor_changed": select(func.count()).where(
            _c.version > bindparam("since", type_=Integer),
            _c.mentor_id.in_((bindparam("mentor_id"), EVERY_MENTOR)),
        ),
    }


def compile_statements(dialect: Dialect) -> Statements:
    compiled = {}
    for name, statement in _declare(dialect.name).items():
        found = statement.compile(dialect=dialect)
        constants = {k: v for k, v in found.params.items() if v is not None}
        compiled[name] = Statement(str(found), tuple(found.positiontup or ()), constants)
    return Statements(**compiled)


def sqlite_statements() -> Statements:
    return compile_statements(sqlite.dialect())


def postgres_statements() -> Statements:
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    return compile_statements(dialect())  # type: ignore[no-untyped-call]
