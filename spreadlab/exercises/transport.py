"""Checkers for the transport lesson (to be written)."""

__all__: list[str] = []
