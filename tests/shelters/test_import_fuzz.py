"""Fuzzing the CSV importers (hypothesis): malformed files of every kind, with
headers mixing the real column names and junk, wrong dates and numbers, stray
quotes, HXL rows, broken encodings. An import either succeeds, or fails with the
pipeline's own errors (TableError for an unreadable file, ImportRejected naming
each bad row and column) and then has written nothing."""

import csv
import io

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shelters.importing import IMPORTERS, ImportRejected, TableError
from shelters.models import AidDistribution, DepartureNotice, Organization, PopulationReport, Site, Source
from shelters.services.imports import import_file

FILE = "fuzz.csv"
MODELS = (Site, Source, PopulationReport, DepartureNotice, AidDistribution)
TABLES = [*MODELS, *(model.history.model for model in MODELS if hasattr(model, "history"))]

JUNK_HEADERS = ["", " ", "foo", "Site Code", "SITE_CODE", " value ", "#adm1", "id", "external id", "é", "\u200f", '"']
CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "FZ-1",
            "fz-1",
            "NO-SUCH-SITE",
            "fz-source",
            "new source!",
            "fz-notice",
            "2025-03-14",
            "2025-02-30",
            "2025-13-01",
            "14/03/2025",
            "2025-3-4",
            "0000-01-01",
            "9999-12-31",
            "8000",
            "8,000",
            "8.000",
            "-5",
            "+7",
            "1e3",
            "0.5",
            "NaN",
            "Infinity",
            "-0",
            "99999999999999999999999",
            "1,2,3",
            "exact",
            "EXACT",
            "at_least",
            "at_most",
            "range",
            "headcount",
            "A",
            "b",
            "F",
            "water",
            "voluntary",
            "mandatory",
            "open",
            "closed",
            "school",
            "#affected",
            "#adm1+name",
            '"',
            'a"b',
            '""',
            "line\nbreak",
            "tab\there",
            "قاعدة حميميم",
            "\ufeff",
            "\x00",
            "=1+1",
            "https://example.org/x",
        ]
    ),
    st.text(max_size=12),
)


# Plausible values per column, so that many generated rows get deep into validation.
GOOD = {
    "site_code": ["FZ-1", "FZ-2", "NO-SUCH-SITE"],
    "code": ["FZ-1"],
    "name": ["Fuzz school", "مدرسة"],
    "slug": ["fz-source", "fz-other", "bad slug"],
    "external_id": ["fz-1", "fz-2", "fz-notice", "fz-3"],
    "as_of": ["2025-03-14", "2025-03-15"],
    "reported_on": ["2025-03-14", "2025-03-01"],
    "issued_on": ["2025-03-14"],
    "distributed_on": ["2025-03-14"],
    "opened_on": ["2025-03-07"],
    "closed_on": ["2025-03-01", "2025-04-01"],
    "deadline": ["2025-03-20", "2025-03-01"],
    "source": ["fz-source", "fz-new", ""],
    "source_grade": ["A", "B", "F", ""],
    "grade": ["A", "C", "F"],
    "qualifier": ["exact", "at_least", "at_most", "range"],
    "method": ["headcount", "estimate", ""],
    "value": ["8000", "8,120", "0", "-1"],
    "low": ["7000", "9000", ""],
    "high": ["9000", "7000", ""],
    "households": ["1200", ""],
    "female": ["4000", "9000"],
    "male": ["4000", "9000"],
    "children": ["2000"],
    "issuer": ["Base"],
    "provider": ["Fuzz NGO"],
    "item": ["water", "food", "blankets"],
    "quantity": ["10.5", "1e400", "-1"],
    "individuals": ["40", "100000"],
    "latitude": ["35.5", "91", "-200"],
    "longitude": ["35.9", "181"],
    "capacity": ["12000", "-3"],
    "notice_external_id": ["fz-notice", "nope", ""],
    "url": ["https://example.org/x", "not a url"],
}
WEIGHTED_ENCODINGS = ["utf-8"] * 6 + ["utf-8-sig"] * 2 + ["cp1252", "latin-1", "utf-16"]
WEIGHTED_PREFIXES = [b""] * 16 + [b"\xff\xfe", b"\x80", b"PK\x03\x04", b"\xd0\xcf\x11\xe0"]


def _cell(column: str) -> st.SearchStrategy[str]:
    good = GOOD.get(column.strip().lower())
    return st.one_of(*[st.sampled_from(good)] * 5, CELLS) if good else CELLS


@st.composite
def malformed_files(draw, kind: str) -> bytes:
    columns = IMPORTERS[kind].columns
    real = [column.name for column in columns]
    header = draw(st.lists(st.sampled_from(real) | st.sampled_from(real) | st.sampled_from(JUNK_HEADERS), max_size=14))
    if draw(st.integers(0, 3)):  # most files carry the required columns: then rows get parsed
        header = [column.name for column in columns if column.required] + header
    rows = draw(
        st.lists(
            st.one_of(
                *[st.tuples(*(_cell(column) for column in header)).map(list)] * 3,
                st.lists(CELLS, max_size=len(header) + 2),  # too short or too long
            ),
            max_size=6,
        )
    )
    if draw(st.booleans()):  # an HXL hashtag row, possibly broken, under the header
        tags = st.sampled_from(["#site+code", "#date", "", "#", "#x", "text"])
        rows.insert(0, draw(st.lists(tags, max_size=len(header) + 1)))
    if draw(st.booleans()):
        buffer = io.StringIO()
        csv.writer(buffer).writerows([header, *rows])
        text = buffer.getvalue()
    else:  # hand-made: no quoting at all, stray quotes stay as they are
        text = "\n".join(",".join(row) for row in [header, *rows])
    text += draw(st.sampled_from(["", "", "\n", "\r\n", '"', '\n"unclosed']))
    data = text.encode(draw(st.sampled_from(WEIGHTED_ENCODINGS)), errors="replace")
    data = draw(st.sampled_from(WEIGHTED_PREFIXES)) + data
    if draw(st.integers(0, 7)) == 0:
        data += draw(st.binary(min_size=1, max_size=4))
    return data


@pytest.fixture
def world(db):
    organization = Organization.objects.create(slug="fuzz-ngo", name="Fuzz NGO")
    site = Site.objects.create(code="FZ-1", name="Fuzz school", latitude=35.5, longitude=35.9)
    Site.objects.create(code="FZ-2", name="Other school")
    Source.objects.create(slug="fz-source", name="Fuzz source", grade="B")
    DepartureNotice.objects.create(
        organization=organization, site=site, external_id="fz-notice", issued_on="2025-03-10", issuer="Base"
    )
    return organization


def _counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in TABLES}


def _allowed_fields(kind: str) -> set[str]:
    importer = IMPORTERS[kind]
    return {
        "row",
        *(column.name for column in importer.columns),
        *(field.name for field in importer.model._meta.get_fields()),
    }


@pytest.mark.parametrize("kind", sorted(IMPORTERS))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_a_malformed_file_is_imported_or_refused_cleanly(kind, world, data):
    raw = data.draw(malformed_files(kind), label="file")
    before = _counts()
    try:
        result = import_file(kind=kind, file=io.BytesIO(raw), organization=world, name=FILE)
    except TableError as error:
        message = str(error)
        event("unreadable file")
        assert message.startswith(FILE), message  # names the file, and the line when it is about one
        assert _counts() == before, "an unreadable file changed the database"
    except ImportRejected as rejected:
        event("rejected rows" if any(e.line > 1 for e in rejected.errors) else "rejected header")
        assert rejected.errors, "rejected without a reason"
        lines = raw.count(b"\n") + raw.count(b"\r") + 1
        for error in rejected.errors:
            assert 1 <= error.line <= lines, (str(error), lines)
            assert error.field in _allowed_fields(kind), str(error)
            assert error.message.strip(), str(error)
        assert _counts() == before, "a rejected file changed the database"
    else:
        event("imported" if result.created or result.updated else "nothing to import")
        assert result.rows >= result.created + result.updated + result.unchanged


@pytest.mark.parametrize("kind", sorted(IMPORTERS))
def test_a_table_error_writes_nothing(kind, world):
    before = _counts()
    with pytest.raises(TableError):
        import_file(kind=kind, file=io.BytesIO(b"\xff\xfe\x00bad"), organization=world, name=FILE)
    assert _counts() == before
