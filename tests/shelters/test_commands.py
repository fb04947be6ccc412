import io
import os
import subprocess
import sys
from datetime import date

from django.core.management import call_command

from shelters.models import AidDistribution, DepartureNotice, PopulationReport, Site, Source, User
from tests.support.processes import PROJECT_DIR


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_load_demo_loads_hmeimim_and_is_idempotent(db):
    _call("load_demo")
    _call("load_demo")
    site = Site.objects.get()
    assert (site.code, site.name_ar, site.site_type, site.capacity) == (
        "SY-LAT-HMEIMIM",
        "قاعدة حميميم الجوية",
        "military_installation",
        None,
    )
    reports = {(r.qualifier, r.value, r.as_of) for r in PopulationReport.objects.all()}
    assert reports == {("at_least", 8000, date(2025, 3, 13)), ("at_most", 9000, date(2025, 3, 13))}
    notice = DepartureNotice.objects.get()
    assert notice.compulsion == "unclear" and notice.channel == "leaflet"
    distribution = AidDistribution.objects.get()
    assert distribution.notice == notice and distribution.quantity is None
    assert Source.objects.count() == 4


def test_ensure_admin_prints_the_password_once(db):
    first = _call("ensure_admin")
    password = first.split("Password: ")[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    second = _call("ensure_admin")
    assert password not in second and "already exists" in second


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production", DJANGO_ALLOWED_HOSTS="example.org")
    completed = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode != 0
    assert "DJANGO_SECRET_KEY" in completed.stderr
