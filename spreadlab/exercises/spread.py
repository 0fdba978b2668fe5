"""Checkers for the spread lesson (to be written)."""

__all__: list[str] = []
