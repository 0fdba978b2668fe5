"""Checkers for the factory lesson (to be written)."""

__all__: list[str] = []
