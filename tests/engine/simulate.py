"""Re-export: the simulator lives in shelters.engine.simulation (usable by the
Django side for benchmarks); kept here so older imports keep working."""

from shelters.engine.simulation import (
    simulate,  # noqa: F401
)
