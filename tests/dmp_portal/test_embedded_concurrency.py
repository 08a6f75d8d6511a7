"""The embedded default never says 503: 30 traced reads at once, over real HTTP, against the
quick start's own server (``manage.py runserver``, threaded) on its SQLite file.

Each read writes an access event in the same transaction as the read (records/trail.py): 30 of
them at once are 30 concurrent writers on one SQLite file. The process is a separate one, with
the embedded settings as ``./dev start`` sets them; the cast is built by the real services."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cast import PASSWORD, totp_code
from tests.live import PYTHON, clean_env, free_port, login, manage, server

pytestmark = pytest.mark.slow

PARALLEL = 30

CAST = """
from tests.cast import make_patient, make_professional, make_user, ALICE_NIR
from identity.models import Role
admin = make_user("admin@embedded.example", role=Role.ADMINISTRATOR, staff=True)
doctor = make_professional("doctor@embedded.example", verifier=admin)
alice = make_patient(opened_by=doctor, nir=ALICE_NIR, medecin_traitant=True)
print(alice.public_id)
"""


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """A migrated embedded portal in a temporary var/ with one doctor and Alice's DMP; yields
    (the server's URL, Alice's DMP id, its var/ folder)."""
    var = tmp_path_factory.mktemp("embedded-var")
    env = clean_env(DMP_EMBEDDED="1", DJANGO_DEBUG="1", DMP_VAR_DIR=str(var))
    manage("migrate", "--noinput", env=env)
    public_id = manage("shell", "-c", CAST, env=env).strip().splitlines()[-1]
    port = free_port()
    command = [PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    with server(command, port=port, env=env) as url:
        yield url, public_id, var


def _events(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT count(*) FROM records_accessevent").fetchone()[0])


def test_thirty_parallel_traced_reads_on_sqlite_all_succeed(
    embedded: tuple[str, str, Path],
) -> None:
    url, public_id, var = embedded
    database = var / "dmp.sqlite3"
    session = login(url, "doctor@embedded.example", PASSWORD, totp_code)
    timeline = f"{url}/pro/dmp/{public_id}/documents/"
    assert session.get(timeline, timeout=30).status_code == 200
    before = _events(database)

    start = threading.Barrier(PARALLEL)
    statuses: list[int | str] = []

    def read() -> None:
        client = requests.Session()
        client.cookies.update(session.cookies)
        start.wait()
        try:
            statuses.append(client.get(timeline, timeout=60).status_code)
        except requests.RequestException as exc:  # a refused connection counts as an error
            statuses.append(type(exc).__name__)

    threads = [threading.Thread(target=read) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * PARALLEL
    # Every read was traced: one event each, no more, no fewer.
    assert _events(database) - before == PARALLEL
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # Each read also upserted the doctor's last look at the DMP ("Mes patients"): 30
        # writers on one row, one row left, at the newest of the 30 events.
        looks = db.execute("SELECT at FROM records_lastlook").fetchall()
        newest = db.execute(
            "SELECT MAX(at) FROM records_accessevent WHERE action = 'timeline_view'"
        ).fetchone()[0]
        assert len(looks) == 1 and looks[0][0] == newest
    # The chain did not fork: verify_access_log walks it (manage() raises on a non-zero exit).
    env = clean_env(DMP_EMBEDDED="1", DJANGO_DEBUG="1", DMP_VAR_DIR=str(var))
    # Every event is in the trail: the check seals them all under one signed tree head, which
    # a second check then verifies leaf by leaf.
    assert f"Tree head of {before + PARALLEL} leaves signed" in manage("verify_access_log", env=env)
    assert f"intact: {before + PARALLEL} leaves verified" in manage("verify_access_log", env=env)
