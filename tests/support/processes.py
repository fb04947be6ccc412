"""Starting real processes in tests: the same helpers the benchmark commands use."""

from shelters.benchmarks.processes import PROJECT_DIR, child_env, database_url, free_port, running, wait_for

__all__ = ["PROJECT_DIR", "child_env", "database_url", "free_port", "running", "wait_for"]
