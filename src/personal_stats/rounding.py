"""Exact half-up rounding from integers: no binary floats until the final value."""


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
