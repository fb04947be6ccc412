"""Exceptions the services raise for the entry points to translate (admin, API, commands)."""


class StaleRecord(Exception):
    """The record changed after the caller read it; nothing was written."""
