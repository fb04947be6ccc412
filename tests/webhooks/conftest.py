"""Webhook fixtures: eager Celery (no worker processes), loopback URLs allowed,
no retry delay, and a real HTTP receiver on 127.0.0.1 in a thread."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from config import celery_app
from shelters.models import Organization, User
from webhooks.events import REPORT_CREATED
from webhooks.models import WebhookSubscription
from webhooks.services import subscription_create


@pytest.fixture(autouse=True)
def webhook_settings(settings) -> None:
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 0
    settings.WEBHOOKS_TIMEOUT_SECONDS = 5


@pytest.fixture
def eager(settings) -> Iterator[None]:
    """Tasks run in-process, synchronously; the app's own config is restored after.

    The app's configuration is read before anything is overridden: Celery loads
    it lazily from Django settings, and loading it under an override would make
    the override the value "restored" afterwards (leaking eager mode into the
    tests that need real workers)."""
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the partner's server got, and the statuses it answers with (in turn;
    the last one repeats)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=lambda: [200])
    extra_headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            code = state.statuses[min(len(state.requests), len(state.statuses)) - 1]
            self.send_response(code)
            for name, value in state.extra_headers.items():
                self.send_header(name, value)
            reply = b"ok" if code < 300 else b"partner error"
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/shelters"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def make_subscription(alice):
    def make(
        organization: Organization | None = None,
        url: str = "https://partner.example.org/hooks",
        events: tuple[str, ...] = (REPORT_CREATED,),
        active: bool = True,
        created_by: User | None = None,
    ) -> tuple[WebhookSubscription, str]:
        return subscription_create(
            organization or alice.organization, created_by or alice, url, list(events), active=active
        )

    return make
