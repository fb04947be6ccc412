"""Shared fixtures: organisations and users in the healthchecks style
(alice and bob in two organisations, charlie a coordinator on staff)."""

from datetime import date
from pathlib import Path

import pytest

from shelters.models import Organization, Site, Source, User

DATA_DIR = Path(__file__).parent / "data"
SCENARIOS_DIR = DATA_DIR / "scenarios"


@pytest.fixture
def alice_org(db) -> Organization:
    return Organization.objects.create(slug="alice-ngo", name="Alice NGO", kind=Organization.Kind.NGO)


@pytest.fixture
def bob_org(db) -> Organization:
    return Organization.objects.create(slug="bob-agency", name="Bob Agency", kind=Organization.Kind.UN_AGENCY)


@pytest.fixture
def alice(alice_org) -> User:
    return User.objects.create_user("alice", password="alice-password", organization=alice_org, role=User.Role.EDITOR)


@pytest.fixture
def bob(bob_org) -> User:
    return User.objects.create_user("bob", password="bob-password", organization=bob_org, role=User.Role.EDITOR)


@pytest.fixture
def charlie(db) -> User:
    """A coordinator with full rights in the admin."""
    return User.objects.create_superuser("charlie", password="charlie-password", email="charlie@example.org")


@pytest.fixture
def site(db) -> Site:
    return Site.objects.create(
        code="SY-LAT-HMEIMIM",
        name="Hmeimim Air Base",
        name_ar="قاعدة حميميم الجوية",
        site_type=Site.Type.MILITARY_INSTALLATION,
        governorate="Latakia",
        opened_on=date(2025, 3, 7),
    )


@pytest.fixture
def source(db) -> Source:
    return Source.objects.create(slug="russian-mfa", name="Russian MFA", kind=Source.Kind.AUTHORITY, grade="C")


def pytest_configure(config) -> None:
    """Remove a SQLite test database left by an interrupted run (its -wal/-shm files
    would make the new one fail with "disk I/O error")."""
    from django.conf import settings

    test_name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and test_name:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{test_name}{suffix}").unlink(missing_ok=True)
