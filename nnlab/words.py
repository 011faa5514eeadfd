"""Counts said as a person says them: "1 student", "2 students" (not "student(s)")."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """``1, "student"`` -> ``1 student``; ``2, "student"`` -> ``2 students``; ``1500`` -> ``1,500 ...s``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
