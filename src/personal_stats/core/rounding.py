"""Exact half-up rounding from integers: no binary floats until the final value."""

import math
from fractions import Fraction


def div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for a non-negative numerator."""
    return (2 * numerator + denominator) // (2 * denominator)


def hours(minutes: int) -> float:
    """Minutes as hours with one decimal (9 minutes -> 0.2)."""
    return div_half_up(minutes, 6) / 10


def rate(part: int, whole: int) -> float:
    """A ratio with three decimals."""
    return div_half_up(1000 * part, whole) / 1000


def percentage(part: int, whole: int) -> float:
    """A percentage with one decimal."""
    return div_half_up(1000 * part, whole) / 10


def half_away(value: Fraction, places: int) -> float:
    """A signed exact value rounded half away from zero (-12.25 -> -12.3); a result that
    rounds to zero is 0.0, never -0.0."""
    whole = math.floor(abs(value) * 10**places + Fraction(1, 2))
    return (-whole if value < 0 else whole) / 10**places if whole else 0.0
