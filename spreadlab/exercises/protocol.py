"""Checkers for the protocol lesson (to be written)."""

__all__: list[str] = []
