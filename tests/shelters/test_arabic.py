"""The Arabic translation: the project's own strings come out in Arabic, and the
catalogue is complete (no untranslated or fuzzy entries)."""

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import django_celery_beat
import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django_celery_beat.models import CrontabSchedule

from shelters.admin.periodic_tasks import describe_crontab
from shelters.models import CountReportSchedule, PopulationReport, ReportStatus, Site
from shelters.services.count_reports import count_report_schedule_save

CATALOGUE = settings.BASE_DIR / "locale" / "ar" / "LC_MESSAGES" / "django.po"
ARABIC = re.compile(r"[\u0600-\u06FF]")
# Names kept in Latin script in the Arabic catalogue: file formats.
FORMAT_NAMES = {"CSV", "HXL CSV", "XLSX", "HTML", "PDF"}


def _entries(text: str) -> list[dict]:
    """A minimal .po reader: each entry's flags and its msgid/msgstr strings."""
    entries = []
    for block in re.split(r"\n\s*\n", text.strip()):
        flags, fields, key = [], {}, None
        for line in block.splitlines():
            if line.startswith("#,"):
                flags += [flag.strip() for flag in line[2:].split(",")]
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                fields[key] += ast.literal_eval(line)
            else:
                key, _, value = line.partition(" ")
                fields[key] = ast.literal_eval(value)
        entries.append({"flags": flags, "fields": fields})
    return entries


def test_model_and_choice_labels_are_arabic():
    with translation.override("ar"):
        assert str(PopulationReport._meta.verbose_name) == "تقرير عن عدد السكان"
        assert str(Site._meta.verbose_name_plural) == "المواقع"
        assert str(ReportStatus.REJECTED.label) == "مرفوض"
        assert str(ReportStatus.RETRACTED.label) == "مسحوب"


def test_admin_site_list_speaks_arabic(client, charlie):
    client.force_login(charlie)
    with translation.override("ar"):
        response = client.get(reverse("admin:shelters_site_changelist"), HTTP_ACCEPT_LANGUAGE="ar")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="ar" dir="rtl"' in html
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "تتبّع المآوي" in title  # the admin's site_title
    assert "الموقع" in title  # "Select site to change" with the model's Arabic name
    assert "Select" not in title


def test_catalogue_is_complete():
    entries = _entries(CATALOGUE.read_text(encoding="utf-8"))
    header, messages = entries[0], entries[1:]
    assert header["fields"]["msgid"] == ""
    assert "Language: ar\n" in header["fields"]["msgstr"]
    assert "nplurals=6;" in header["fields"]["msgstr"]
    assert "fuzzy" not in header["flags"]
    assert len(messages) > 400
    for entry in messages:
        msgid = entry["fields"]["msgid"]
        assert "fuzzy" not in entry["flags"], msgid
        msgstrs = {key: value for key, value in entry["fields"].items() if key.startswith("msgstr")}
        if "msgid_plural" in entry["fields"]:
            assert sorted(msgstrs) == [f"msgstr[{n}]" for n in range(6)], msgid
        assert msgstrs and all(value.strip() for value in msgstrs.values()), msgid
    # Everything except identifiers kept on purpose (file formats and the like) is in Arabic.
    kept = {
        entry["fields"]["msgid"]
        for entry in messages
        if not ARABIC.search(entry["fields"].get("msgstr") or entry["fields"]["msgstr[5]"])
    }
    assert kept <= FORMAT_NAMES, kept


def _msgids(entries: list[dict]) -> set[str]:
    return {entry["fields"]["msgid"] for entry in entries[1:]}


@pytest.mark.skipif(not shutil.which("xgettext"), reason="needs GNU gettext (.ci/run installs it)")
def test_every_string_marked_in_the_code_is_in_the_catalogue(tmp_path):
    """``makemessages`` run on a copy of the code adds nothing untranslated.

    The test above only sees what is already in the .po: a label added in the
    code and never extracted would show in English in the Arabic admin."""
    base = settings.BASE_DIR
    for name in ("config", "shelters", "api", "webhooks", "templates", "locale"):
        shutil.copytree(base / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(base / "manage.py", tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "ar", "--no-obsolete"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    extracted = _entries((tmp_path / CATALOGUE.relative_to(base)).read_text(encoding="utf-8"))
    committed = _entries(CATALOGUE.read_text(encoding="utf-8"))
    assert _msgids(extracted) - _msgids(committed) == set(), "marked in the code, missing from the catalogue"
    assert _msgids(committed) - _msgids(extracted) == set(), "in the catalogue, no longer in the code"
    for entry in extracted[1:]:
        assert "fuzzy" not in entry["flags"], entry["fields"]["msgid"]


# Labels kept as they are in Arabic: file formats, and the primary key.
KEPT_LABELS = FORMAT_NAMES | {"ID"}


def test_every_field_label_of_our_models_is_arabic():
    """Column headers and form labels come from fields' verbose names: a field
    without a translatable one shows its English attribute name."""
    untranslated = []
    for model in apps.get_models():
        if model._meta.app_label not in {"shelters", "api", "webhooks"}:
            continue
        if model.__name__.startswith("Historical"):
            continue  # django-simple-history's own columns; our fields there are checked on the model
        if model._meta.proxy and model._meta.concrete_model._meta.app_label not in {"shelters", "api", "webhooks"}:
            continue  # a third-party table under our name (api.APIToken): its admin labels its columns itself
        for field in model._meta.concrete_fields:
            english = str(field.verbose_name)
            with translation.override("ar"):
                arabic = str(field.verbose_name)
            if english == arabic and english not in KEPT_LABELS:
                untranslated.append(f"{model.__name__}.{field.name}")
    assert untranslated == []


# --- Third-party admin pages staff use: django-celery-beat ---------------------

VENDOR_CATALOGUE = settings.BASE_DIR / "locale_vendor" / "ar" / "LC_MESSAGES" / "django.po"


def test_periodic_task_pages_speak_arabic(client, charlie):
    """A count report schedule links to its periodic task: that page, and the
    admin index naming the app, are in Arabic too."""
    schedule = count_report_schedule_save(schedule=CountReportSchedule(name="daily", period_kind="day"))
    client.force_login(charlie)
    with translation.override("ar"):
        index = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="ar").content.decode()
        page = client.get(
            reverse("admin:django_celery_beat_periodictask_change", args=[schedule.periodic_task_id]),
            HTTP_ACCEPT_LANGUAGE="ar",
        ).content.decode()
    assert "المهام الدورية" in index  # the app's name
    assert "Periodic Tasks" not in index
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "مهمة دورية" in title
    for label in ("جدول Cron", "الوسائط الموضعية", "مفعَّلة", "خيارات التنفيذ"):
        assert label in page, label
    for english in ("Crontab Schedule", "Positional Arguments", "Execution Options"):
        assert english not in page, english


def test_vendor_catalogue_is_arabic_and_compiled():
    """Every entry translated into Arabic, and the committed .mo says the same as the .po."""
    entries = _entries(VENDOR_CATALOGUE.read_text(encoding="utf-8"))
    assert "Language: ar\n" in entries[0]["fields"]["msgstr"]
    with VENDOR_CATALOGUE.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert len(entries) > 100
    for entry in entries[1:]:
        fields = entry["fields"]
        assert "fuzzy" not in entry["flags"], fields["msgid"]
        if "msgid_plural" in fields:
            for n, form in ((0, 0), (1, 1), (2, 2), (5, 3), (11, 4), (100, 5)):
                assert ARABIC.search(fields[f"msgstr[{form}]"]), fields["msgid"]
                assert compiled.ngettext(fields["msgid"], fields["msgid_plural"], n) == fields[f"msgstr[{form}]"]
        else:
            assert ARABIC.search(fields["msgstr"]), fields["msgid"]
            assert compiled.gettext(fields["msgid"]) == fields["msgstr"], fields["msgid"]


def test_our_catalogue_does_not_override_the_vendor_translations():
    """Ours comes first in LOCALE_PATHS: the same English word translated
    differently there would replace the vendor's (our "Day" of a count report
    once turned an interval's "every day" into "all day"). Use a context."""
    ours = {e["fields"]["msgid"]: e["fields"] for e in _entries(CATALOGUE.read_text(encoding="utf-8"))[1:]}
    for entry in _entries(VENDOR_CATALOGUE.read_text(encoding="utf-8"))[1:]:
        fields = entry["fields"]
        mine = ours.get(fields["msgid"])
        if mine is not None and "msgctxt" not in mine:
            assert mine.get("msgstr") == fields.get("msgstr"), fields["msgid"]
    word = "Day"  # a variable, so that makemessages does not collect it from this file
    with translation.override("ar"):
        assert translation.gettext(word) == "يوم"


@pytest.mark.skipif(not shutil.which("xgettext"), reason="needs GNU gettext (.ci/run installs it)")
def test_vendor_catalogue_matches_installed_celery_beat(tmp_path):
    """After an upgrade of django-celery-beat, a new label would show in English:
    extract the installed package's strings and compare."""
    package = Path(django_celery_beat.__file__).parent
    copy = tmp_path / "django_celery_beat"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "locale", "static"))
    (copy / "locale").mkdir()
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "--locale", "ar"],
        cwd=copy,
        check=True,
        capture_output=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": ""},
    )
    extracted = _entries((copy / "locale" / "ar" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8"))
    committed = _entries(VENDOR_CATALOGUE.read_text(encoding="utf-8"))
    assert _msgids(extracted) - _msgids(committed) == set(), "new in django-celery-beat, not translated"
    assert _msgids(committed) - _msgids(extracted) == set(), "no longer in django-celery-beat"


def _crontab(**fields) -> CrontabSchedule:
    values = {"minute": "0", "hour": "6", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}
    return CrontabSchedule.objects.create(**{**values, **fields}, timezone="UTC")


def test_schedules_are_described_in_the_staff_language(db):
    daily, monday, weekend = _crontab(), _crontab(day_of_week="1"), _crontab(minute="30", hour="18", day_of_week="6,0")
    assert describe_crontab(daily) == "Every day at 06:00 (UTC)"
    assert describe_crontab(monday) == "Every week on Monday at 06:00 (UTC)"
    assert describe_crontab(weekend) == "Every week on Sunday, Saturday at 18:30 (UTC)"
    with translation.override("ar"):
        assert describe_crontab(daily) == "كل يوم الساعة 06:00 (UTC)"
        assert describe_crontab(monday) == "كل أسبوع يوم الاثنين الساعة 06:00 (UTC)"
        assert describe_crontab(weekend) == "كل أسبوع يوم الأحد، السبت الساعة 18:30 (UTC)"
    # Anything else keeps cron-descriptor's (English) words rather than a wrong Arabic one.
    quarterly = _crontab(minute="*/15")
    assert describe_crontab(quarterly) == quarterly.human_readable
    assert describe_crontab(None) == "-"


def test_a_count_report_schedule_names_its_timing_in_arabic(client, charlie):
    schedule = count_report_schedule_save(schedule=CountReportSchedule(name="weekly", period_kind="week"))
    client.force_login(charlie)
    with translation.override("ar"):
        listing = client.get(reverse("admin:shelters_countreportschedule_changelist"), HTTP_ACCEPT_LANGUAGE="ar")
        task = client.get(
            reverse("admin:django_celery_beat_periodictask_change", args=[schedule.periodic_task_id]),
            HTTP_ACCEPT_LANGUAGE="ar",
        )
    assert "كل أسبوع يوم الاثنين الساعة 06:00 (UTC)" in listing.content.decode()
    page = task.content.decode()
    assert "وصف الجدول الزمني" in page and "كل أسبوع يوم الاثنين الساعة 06:00 (UTC)" in page
    assert "Crontab translation" not in page and "At 06:00 AM" not in page
