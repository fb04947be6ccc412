import io

import pytest
from django.core.management import call_command

from shelters.models import Site


@pytest.fixture
def demo(db) -> Site:
    """The Hmeimim case, as `load_demo` ships it."""
    call_command("load_demo", verbosity=0, stdout=io.StringIO())
    return Site.objects.get(code="SY-LAT-HMEIMIM")


@pytest.fixture
def staff_client(client, charlie):
    """The Django test client, logged in as a coordinator with every right in the admin."""
    client.force_login(charlie)
    return client
