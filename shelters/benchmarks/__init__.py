"""Tools for the benchmark commands (and the tests that start real processes)."""
