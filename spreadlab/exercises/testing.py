"""Checkers for the testing lesson (to be written)."""

__all__: list[str] = []
