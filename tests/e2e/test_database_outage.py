"""The database unreachable for a few seconds: the API says 503 (problem+json, never an HTML
500), a task that meets the outage retries with backoff and succeeds once it is back.

The outage is real for the server processes: they reach PostgreSQL through a TCP proxy
that this test cuts (closing every connection and refusing new ones) and restores."""

import asyncio
import json
import socket
import threading
import urllib.error
import urllib.request
import uuid
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from knox.models import AuthToken

from shelters.models import ReconciliationState, Site, User
from shelters.tasks import reconcile_site_task
from tests.support.processes import PRODUCTION_SETUP, child_env, free_port, running, wait_for

pytestmark = PRODUCTION_SETUP


class TcpProxy:
    """A loopback TCP proxy to PostgreSQL that can be cut and restored."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.server = None
        self.writers: set[asyncio.StreamWriter] = set()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.restore()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader, client_writer) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        self.writers |= {client_writer, server_writer}
        await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def restore(self) -> None:
        async def start():
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

        self._call(start())

    def cut(self) -> None:
        async def stop():
            self.server.close()
            await self.server.wait_closed()
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()

        self._call(stop())


def _get(url: str, token: str) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), json.loads(error.read() or b"{}")
    except urllib.error.URLError:  # not listening yet
        return 0, "", {}


def test_a_short_database_outage(tmp_path: Path):
    call_command("load_demo", verbosity=0)
    site = Site.objects.get(code="SY-LAT-HMEIMIM")
    user = User.objects.create_user("outage-partner", role=User.Role.VIEWER)
    token = AuthToken.objects.create(user=user, expiry=timedelta(hours=1))[1]
    proxy = TcpProxy(target_port=int(settings.DATABASES["default"].get("PORT") or 5432))
    db = settings.DATABASES["default"]
    through_proxy = f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}"
    env = child_env(
        DATABASE_URL=through_proxy,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        API_RATE_PER_TOKEN="100000/minute",
        SHELTERS_TASK_RETRY_BACKOFF="1",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/sites/"
    web = ["gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning"]
    worker = ["celery", "--app", "config", "worker", "--loglevel", "INFO", "--concurrency", "1"]
    worker += ["--hostname", f"outage-{uuid.uuid4().hex[:6]}@localhost"]
    logs = {"web": tmp_path / "web.log", "worker": tmp_path / "worker.log"}
    with running(web, logs["web"], env), running(worker, logs["worker"], env):
        wait_for(lambda: _get(url, token)[0] == 200, timeout=60, what="the API to answer", log=logs["web"])

        proxy.cut()
        status, content_type, body = _get(url, token)
        assert status == 503 and content_type.startswith("application/problem+json")
        assert body["status"] == 503 and body["title"]
        ReconciliationState.objects.update_or_create(site=site, defaults={"pending": True})
        reconcile_site_task.delay(site.pk)  # meets the outage in the worker
        wait_for(
            lambda: "retry" in logs["worker"].read_text(), timeout=60, what="the task to retry", log=logs["worker"]
        )

        proxy.restore()
        wait_for(
            lambda: not ReconciliationState.objects.get(site=site).pending,
            timeout=90,
            what="the task to succeed once the database is back",
            log=logs["worker"],
        )
        assert _get(url, token)[0] == 200
    assert ReconciliationState.objects.get(site=site).latest_date >= date(2025, 3, 13)
