"""Reads. Views, the admin, the API and count reports query through these."""
