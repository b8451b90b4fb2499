"""A mentor's fields answered at one subscription event, reused at the next while they stand.

Every subscriber hears of every write (a peer rank may move), and a dashboard subscription
re-selects its whole dashboard at each event; yet most writes change one mentor's records.
A field whose question is answered from the mentor's own records and today's date alone
(`Asked.own_records`: the calendar, the monthly series, the history) gives the same answer
until a write changes those records or the date moves. Its completed value is kept with the
stamp of what it was read from: which change of the mentor's records it follows
(`live.OwnChanges.stamp`) and the quarter of an hour (every zone's date holds that long, all
offsets being whole quarters). An event whose stamp is the same takes the kept value instead of
asking the question and completing its answer again; the other fields (the summary and its
rank, a breakdown's type names) are asked at every event.
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from graphql import FieldNode, GraphQLObjectType, GraphQLSchema

from personal_stats.frameworks.strawberry import field_definition
from personal_stats.support.metrics import SUBSCRIPTION_FIELDS

Stamp = tuple[int, int, int]  # the era and last change of the mentor's records; the quarter
Nodes = tuple[FieldNode, ...]  # a field's nodes in the document (merged where repeated)
Key = tuple[str, tuple[int, ...], bytes]  # the mentor, the field's nodes, the variables
KEPT = 512  # values kept, the least recently used let go first
QUARTER = 900  # seconds every zone's date holds for
_REUSED = SUBSCRIPTION_FIELDS.labels("reused")
_ASKED = SUBSCRIPTION_FIELDS.labels("asked")


def stamp(own: tuple[int, int] | None, now: datetime) -> Stamp | None:
    """An event's stamp from its mentor's `OwnChanges.stamp` and its instant."""
    return None if own is None else (*own, int(now.timestamp() // QUARTER))


@cache
def reusable_fields(schema: GraphQLSchema) -> frozenset[tuple[str, str]]:
    """(type, field) of every field that asks a question of the mentor's own records."""
    found = set()
    for type_name, type_ in schema.type_map.items():
        if not isinstance(type_, GraphQLObjectType):
            continue
        for field_name, field in type_.fields.items():
            definition = field_definition(field)
            asked = definition.metadata.get("asked") if definition is not None else None
            if asked is not None and asked.own_records:
                found.add((type_name, field_name))
    return frozenset(found)


@dataclass(slots=True)
class Kept:
    nodes: Nodes  # held, so that their ids name no other nodes while they are kept
    stamp: Stamp
    value: Any


class KeptFields:
    """The completed values of reusable fields, by mentor, field node and variables."""

    def __init__(self, size: int = KEPT) -> None:
        self.size = size
        self.kept: OrderedDict[Key, Kept] = OrderedDict()

    def find(self, key: Key, stamp: Stamp) -> Any | None:
        kept = self.kept.get(key)
        # The key names the nodes by id: while kept, they hold those ids.
        if kept is None or kept.stamp != stamp:
            _ASKED.inc()
            return None
        self.kept.move_to_end(key)
        _REUSED.inc()
        return kept.value

    def keep(self, key: Key, nodes: Nodes, stamp: Stamp, value: Any) -> None:
        self.kept[key] = Kept(nodes, stamp, value)
        self.kept.move_to_end(key)
        while len(self.kept) > self.size:
            self.kept.popitem(last=False)
