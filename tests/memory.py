"""Answers to the stats core's reads from plain lists: the core tested with no database."""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

from personal_stats.core.figures import localize, standing_of_counts
from personal_stats.core.reads import (
    ActivitiesRead,
    ActivityRow,
    CompletedBeforeRead,
    FirstActivityRead,
    LocalActivitiesRead,
    LocalActivity,
    MentorRow,
    MentorsRead,
    MilestonesRead,
    Question,
    R,
    Read,
    Standing,
    StandingRead,
    TodayRead,
    TypeRow,
    TypesRead,
)
from personal_stats.core.windows import zone


@dataclass
class Memory:
    mentors: dict[str, str] = field(default_factory=dict)  # id -> time zone
    # (mentor id, instant, completed, minutes, type id, activity id)
    activities: list[tuple[str, datetime, bool, int, str, str]] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=lambda: {"t1": "t1"})  # id -> code

    def mentor(self, mentor_id: str, tz: str = "UTC") -> "Memory":
        self.mentors[mentor_id] = tz
        return self

    def activity(self, mentor_id: str, started_at: str, *, completed: bool = True,
                 minutes: int = 30, type_id: str = "t1", id: str = "") -> "Memory":  # fmt: skip
        instant = datetime.fromisoformat(started_at)
        activity_id = id or f"a{len(self.activities):06d}"
        self.activities.append((mentor_id, instant, completed, minutes, type_id, activity_id))
        return self

    def ask(self, question: Question[R]) -> R:
        return drive(question, self.answer)

    def answer(self, read: Read) -> Any:
        """Every read kind a question may yield, from the lists (`reads`' table of kinds)."""
        return getattr(self, f"read_{read.kind}")(read)

    def read_today(self, read: TodayRead) -> date:
        return datetime.now(zone(read.tz)).date()

    def read_mentors(self, read: MentorsRead) -> dict[str, MentorRow]:
        return {i: MentorRow(i, i.title(), self.mentors[i]) for i in read.ids
                if i in self.mentors}  # fmt: skip

    def read_activities(self, read: ActivitiesRead) -> list[ActivityRow]:
        rows = [(int(at.timestamp()), done, minutes, type_id)
                for m, at, done, minutes, type_id, _ in self.activities
                if m == read.mentor_id and read.start <= at < read.end]  # fmt: skip
        return sorted(rows)

    def read_local_activities(self, read: LocalActivitiesRead) -> list[LocalActivity]:
        rows = self.read_activities(ActivitiesRead(read.mentor_id, read.start, read.end))
        return localize(rows, read.tz)

    def read_milestones(self, read: MilestonesRead) -> list[tuple[int, int, str]]:
        """The naive reference: sort every completed activity, count."""
        done = sorted((at, activity_id) for m, at, completed, _, _, activity_id in self.activities
                      if m == read.mentor_id and completed and at < read.end)  # fmt: skip
        return [(n, int(done[n - 1][0].timestamp()), done[n - 1][1])
                for n in read.positions if n <= len(done)]  # fmt: skip

    def read_first_activity(self, read: FirstActivityRead) -> int | None:
        mine = [at for m, at, *_ in self.activities if m == read.mentor_id]
        return int(min(mine).timestamp()) if mine else None

    def read_completed_before(self, read: CompletedBeforeRead) -> list[int]:
        mine = [at for m, at, done, *_ in self.activities
                if m == read.mentor_id and done and at < read.end]  # fmt: skip
        mine.sort(reverse=True)
        return [int(at.timestamp()) for at in mine[: read.limit]]

    def read_types(self, _read: TypesRead) -> dict[str, TypeRow]:
        return {i: TypeRow(i, code, code.title()) for i, code in self.types.items()}

    def read_standing(self, read: StandingRead) -> Standing:
        counts = [
            sum(1 for m, at, done, *_ in self.activities
                if m == mentor and done and read.start <= at < read.end)
            for mentor in self.mentors
        ]  # fmt: skip
        return standing_of_counts(np.array(counts), len(counts), read.completed)


def drive(question: Question[R], answer: Any) -> R:
    """Run a question to its end, answering each read with `answer`."""
    try:
        read = next(question)
        while True:
            read = question.send(answer(read))
    except StopIteration as done:
        result: R = done.value
        return result
