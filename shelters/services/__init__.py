"""Writes. Every entry point (admin, API, import, tasks) goes through these."""
