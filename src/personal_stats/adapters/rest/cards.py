"""SVG cards of a mentor's summary and daily calendar, for embedding in other pages. Pure:
results in, SVG text out. Every text from the data is escaped."""

from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from personal_stats.core.results import Calendar, Summary, SummaryComparison


@dataclass(frozen=True)
class Theme:
    background: str
    text: str
    muted: str
    border: str
    levels: tuple[str, str, str, str, str]


THEMES = {
    "light": Theme("#ffffff", "#1f2328", "#59636e", "#d1d9e0",
                   ("#ebedf0", "#9be9a8", "#40c463", "#30a14e", "#216e39")),
    "dark": Theme("#0d1117", "#e6edf3", "#9198a1", "#3d444d",
                  ("#161b22", "#0e4429", "#006d32", "#26a641", "#39d353")),
}  # fmt: skip
THEMES["auto"] = THEMES["light"]  # and dark where the viewer prefers it (`_follow_the_viewer`)
_FONT = "font-family=\"-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _frame(width: int, height: int, theme_name: str, title: str, description: str) -> list[str]:
    theme = THEMES[theme_name]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="card-title card-desc">',
        f'<title id="card-title">{_text(title)}</title>',
        f'<desc id="card-desc">{_text(description)}</desc>',
    ]
    if theme_name == "auto":
        parts.append(_follow_the_viewer(THEMES["dark"]))
    parts.append(
        f'<rect class="bg" x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="6" '
        f'fill="{theme.background}" stroke="{theme.border}"/>'
    )
    return parts


def _follow_the_viewer(dark: Theme) -> str:
    """The dark theme's colours where the viewer prefers a dark scheme: a style rule wins
    over the light theme's presentation attributes."""
    levels = " ".join(f".l{i} {{ fill: {c} }}" for i, c in enumerate(dark.levels))
    return (
        "<style>@media (prefers-color-scheme: dark) { "
        f".bg {{ fill: {dark.background}; stroke: {dark.border} }} .fg {{ fill: {dark.text} }} "
        f".muted {{ fill: {dark.muted} }} {levels} }}</style>"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _or_dash(value: object, unit: str = "") -> str:
    return "—" if value is None else f"{value}{unit}"


def summary_card(summary: Summary, theme_name: str) -> str:
    """The summary card: the window's counts, rate, hours, favourites, streaks and rank;
    with a comparison, each change beside its figure, in words and with an arrow."""
    theme = THEMES[theme_name]
    rate = summary.completion_rate
    rank = summary.peer_rank_percentile
    comparison: SummaryComparison | None = getattr(summary, "comparison", None)
    change = None if comparison is None else comparison.change
    rows = [
        ("Activities", f"{summary.total_activities} ({summary.completed_activities} completed, "
                       f"{summary.cancelled_activities} cancelled)",
         change and _percent_change(change.total_activities_pct)),
        ("Completion rate", "—" if rate is None else f"{rate * 100:.1f} %",
         change and _points_change(change.completion_rate_delta, 100)),
        ("Hours logged", f"{summary.total_hours_logged} h",
         change and _percent_change(change.total_hours_logged_pct)),
        ("Average session", _or_dash(summary.avg_session_duration_minutes, " min"),
         change and _percent_change(change.avg_session_duration_minutes_pct)),
        ("Active days", _count(summary.active_days, "day"),
         change and _percent_change(change.active_days_pct)),
        ("Favourite activity", _or_dash(summary.most_common_activity_type), None),
        ("Busiest weekday", _or_dash(summary.most_active_weekday), None),
        ("Streak", f"{_count(summary.streak_days, 'day')} (longest "
                   f"{_count(summary.longest_streak_days, 'day')}){_resting(summary)}", None),
        ("Weekly streak", _count(summary.weekly_streak_weeks, "week"), None),
        ("Peer rank", "no peers" if rank is None else f"ahead of {rank} % of peers",
         change and _points_change(change.peer_rank_percentile_delta, 1)),
    ]  # fmt: skip
    title = f"{summary.mentor_name}: personal stats"
    period = f"{summary.start_date} to {summary.end_date} ({summary.timezone})"
    if comparison is not None:
        period += f"; changes against {comparison.start_date} to {comparison.end_date}"
    description = "; ".join(
        f"{label}: {value}" + (f", {moved}" if moved else "") for label, value, moved in rows
    )
    width, height = (460 if comparison is None else 600), 76 + 22 * len(rows)
    if getattr(summary, "rest_days", None):
        width = max(width, 560)  # the streak's row names the rest days
    parts = _frame(width, height, theme_name, title, f"{period}. {description}")
    parts.append(f"<g {_FONT}>")
    parts.append(f'<text class="fg" x="20" y="32" font-size="17" font-weight="600" '
                 f'fill="{theme.text}">{_text(title)}</text>')  # fmt: skip
    parts.append(f'<text class="muted" x="20" y="52" font-size="12" fill="{theme.muted}">'
                 f"{_text(period)}</text>")  # fmt: skip
    for i, (label, value, moved) in enumerate(rows):
        y = 82 + 22 * i
        parts.append(f'<text class="muted" x="20" y="{y}" font-size="13" fill="{theme.muted}">'
                     f"{_text(label)}</text>")  # fmt: skip
        parts.append(f'<text class="fg" x="170" y="{y}" font-size="13" fill="{theme.text}">'
                     f"{_text(value)}</text>")  # fmt: skip
        if moved:
            parts.append(f'<text class="muted" x="440" y="{y}" font-size="13" '
                         f'fill="{theme.muted}">{_text(moved)}</text>')  # fmt: skip
    parts.append("</g></svg>")
    return "\n".join(parts)


def _resting(summary: Summary) -> str:
    """The streak's note of a summary asked with rest days ("; rest days: Sat, Sun"), or
    nothing."""
    named = getattr(summary, "rest_days", None)
    if not named:
        return ""
    return "; rest days: " + ", ".join(day.value[:3].title() for day in named)


def _percent_change(value: float | None) -> str:
    """A change in words, with an arrow for those who see it (never colour alone)."""
    if value is None:
        return "new"
    if value == 0:
        return "no change"
    return f"↑ up {value:.1f} %" if value > 0 else f"↓ down {-value:.1f} %"


def _points_change(value: float | None, scale: int) -> str:
    """A difference of rates or ranks, in percentage points."""
    if value is None:
        return "new"
    points = round(value * scale, 1)
    if points == 0:
        return "no change"
    shown = f"{abs(points):g} point{'' if abs(points) == 1 else 's'}"
    return f"↑ up {shown}" if points > 0 else f"↓ down {shown}"


_CELL, _GAP = 11, 3


def calendar_card(calendar: Calendar, mentor_name: str, theme_name: str) -> str:
    """The daily calendar: a column per week (Monday on top), a square per day."""
    theme = THEMES[theme_name]
    first_monday = calendar.start_date - timedelta(days=calendar.start_date.weekday())
    weeks = (calendar.end_date - first_monday).days // 7 + 1
    width = max(320, 40 + weeks * (_CELL + _GAP))
    height = 60 + 7 * (_CELL + _GAP) + 28
    title = f"{mentor_name}: activity per day"
    description = (
        f"{calendar.total_activities} activities on {calendar.active_days} active days, "
        f"{calendar.start_date} to {calendar.end_date} ({calendar.timezone})"
    )
    parts = _frame(width, height, theme_name, title, description)
    parts.append(f"<g {_FONT}>")
    parts.append(f'<text class="fg" x="20" y="28" font-size="15" font-weight="600" '
                 f'fill="{theme.text}">{_text(title)}</text>')  # fmt: skip
    parts.append(f'<text class="muted" x="20" y="46" font-size="12" fill="{theme.muted}">'
                 f"{_text(description)}</text>")  # fmt: skip
    for day in calendar.days:
        week = (day.date - first_monday).days // 7
        x, y = 20 + week * (_CELL + _GAP), 58 + (day.weekday - 1) * (_CELL + _GAP)
        parts.append(
            f'<rect class="l{day.level}" x="{x}" y="{y}" width="{_CELL}" height="{_CELL}" rx="2" '
            f'fill="{theme.levels[day.level]}"><title>{_day_label(day.date, day.count)}</title>'
            "</rect>"
        )
    legend_y = 58 + 7 * (_CELL + _GAP) + 8
    parts.append(f'<text class="muted" x="20" y="{legend_y + 9}" font-size="11" '
                 f'fill="{theme.muted}">Less</text>')  # fmt: skip
    for level, color in enumerate(theme.levels):
        parts.append(f'<rect class="l{level}" x="{52 + level * (_CELL + _GAP)}" y="{legend_y}" '
                     f'width="{_CELL}" height="{_CELL}" rx="2" fill="{color}"/>')  # fmt: skip
    parts.append(f'<text class="muted" x="{56 + 5 * (_CELL + _GAP)}" y="{legend_y + 9}" '
                 f'font-size="11" fill="{theme.muted}">More</text>')  # fmt: skip
    parts.append("</g></svg>")
    return "\n".join(parts)


def _day_label(day: date, count: int) -> str:
    return f"{day.isoformat()}: {count} {'activity' if count == 1 else 'activities'}"
