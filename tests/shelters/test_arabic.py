"""The Arabic translation: the project's own strings come out in Arabic, and the
catalogue is complete (no untranslated or fuzzy entries)."""

import ast
import re

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from shelters.models import PopulationReport, ReportStatus, Site

CATALOGUE = settings.BASE_DIR / "locale" / "ar" / "LC_MESSAGES" / "django.po"
ARABIC = re.compile(r"[\u0600-\u06FF]")


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
    assert kept <= {"CSV", "HXL CSV", "XLSX", "HTML", "PDF"}, kept
