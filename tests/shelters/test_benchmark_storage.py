"""manage.py benchmark_estimate_storage: measures on scratch tables and leaves nothing behind."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from shelters.models import PopulationEstimate


@pytest.mark.skipif(connection.vendor != "postgresql", reason="measures PostgreSQL storage")
def test_every_layout_gets_every_stored_day(db):
    call_command("generate_sites", "3", "--days", "40", stdout=io.StringIO())
    call_command("reconcile", "--no-progress", stdout=io.StringIO())
    stored = PopulationEstimate.objects.count()
    months = len({(site, day.year, day.month) for site, day in PopulationEstimate.objects.values_list("site", "date")})
    out = io.StringIO()
    call_command("benchmark_estimate_storage", stdout=out)
    counts = {
        label.strip(): int(rows.replace(",", ""))
        for label, rows in re.findall(r"^(day rows[^\n]*?|month rows[^\n]*?)\s+([\d,]+)\s", out.getvalue(), re.M)
    }
    assert counts == {
        "day rows, jsonb flags and contributions (today)": stored,
        "day rows, flags as bits, no contributions": stored,
        "month rows of arrays, contributions as arrays": months,
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench_estimate_%%'")
        assert cursor.fetchone()[0] == 0  # rolled back

    first = min(PopulationEstimate.objects.values_list("site", flat=True))
    out = io.StringIO()
    call_command("benchmark_estimate_storage", "--sites", "1", stdout=out)
    assert f"{PopulationEstimate.objects.filter(site=first).count():,} stored site-days of 1 sites" in out.getvalue()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="measures PostgreSQL storage")
def test_nothing_to_measure_is_said(db):
    with pytest.raises(CommandError, match="no estimates stored"):
        call_command("benchmark_estimate_storage", stdout=io.StringIO())


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the refusal is for other databases")
def test_other_databases_are_refused(db):
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("benchmark_estimate_storage", stdout=io.StringIO())
