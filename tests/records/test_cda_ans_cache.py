"""The ANS material's compile is prepared once and kept (``records.cda.ans``): the XSLT
generated from the CI-SIS schematrons lives in ``DMP_ANS_CDA_CACHE_DIR``, a later process
reads it instead of generating it again, a damaged copy is generated again without the deposit
noticing, and the material itself (read-only, shared) is never written to.

A "new process" is the validator's in-memory caches cleared: what a restarted or another
gunicorn worker starts from. Each test compiles the header schematron (~10 s here).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from dmp_portal.gunicorn_conf import post_worker_init
from identity.models import Patient, Professional
from records.cda import ans
from records.models import Entry
from records.services.cda import cda_deposit
from tests.records.cda_ans import require_ans
from tests.records.helpers import report
from tests.records.test_cda_in import _cda_of, _counts, _fresh_ids, _titled_bilan

CR_BIO_REFUSAL = "ne respecte pas les règles du CI-SIS (volet CR-BIO)"


def _new_process() -> None:
    for cached in (ans._compiled, ans._material_digest, ans._schema):
        cached.cache_clear()


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under ``root`` with its size and mtime: a file written,
    created or renamed there changes it."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in [root, *root.rglob("*")]
    }


def _whole(cached: Path) -> bool:
    head, _, body = cached.read_bytes().partition(b"\n")
    return head.decode() == hashlib.sha256(body).hexdigest() and body.rstrip().endswith(
        b"</xsl:stylesheet>"
    )


@pytest.fixture
def read_only_material(tmp_path: Path, settings: Any) -> Iterator[Path]:
    """A copy of the material as a deployment may mount it: without the value set earlier
    versions wrote into it, every file and directory read-only (root ignores the modes, so
    the tests also compare the tree before and after)."""
    copy = tmp_path / "ans-cda"
    shutil.copytree(require_ans(), copy)
    include = copy / "schematrons" / ans.HEADER
    (include.parent / "include" / ans.MISSING_VALUE_SET).unlink(missing_ok=True)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    settings.DMP_ANS_CDA_DIR = str(copy)
    settings.DMP_ANS_CDA_CACHE_DIR = str(tmp_path / "cache")
    _new_process()
    yield copy
    _new_process()  # the other tests compile the configured material again
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


@pytest.mark.django_db
def test_a_read_only_material_validates_deposits_and_is_never_written_to(
    doctor: Professional, alice: Patient, private_storage: Path, read_only_material: Path
) -> None:
    """The worker's warm-up (gunicorn's post_worker_init) prepares from it, then deposits."""
    before = _snapshot(read_only_material)
    notified = []
    post_worker_init(SimpleNamespace(notify=lambda: notified.append(True)))
    assert notified == [True]
    assert {path.name for path in next(Path(ans.cache_dir()).iterdir()).iterdir()} == {
        "CI-SIS_BIO-CR-BIO_2024.01.xsl.cache",
        "profils_structurationMinimale_ASIP-STRUCT-MIN-StrucMin.xsl.cache",
        ans.MISSING_VALUE_SET,
    }
    report_data = _fresh_ids(_cda_of(report(doctor, alice)))
    entries = Entry.objects.count()
    cda_deposit(actor=doctor.user, patient=alice, data=report_data)
    assert Entry.objects.count() == entries + 1  # the header schematron ran and passed
    bilan = _titled_bilan(doctor, alice)
    counts = _counts(private_storage)
    with pytest.raises(ValidationError) as refused:
        cda_deposit(actor=doctor.user, patient=alice, data=bilan)
    assert CR_BIO_REFUSAL in " ".join(refused.value.messages)
    assert _counts(private_storage) == counts
    assert _snapshot(read_only_material) == before
    (digest,) = Path(ans.cache_dir()).iterdir()
    assert len(list(digest.iterdir())) == 3
    assert b'code="11502-2"' in (digest / ans.MISSING_VALUE_SET).read_bytes()  # CR-BIO's type


@pytest.mark.django_db
def test_a_new_process_reads_the_cache_and_regenerates_a_damaged_file(
    doctor: Professional,
    alice: Patient,
    private_storage: Path,
    read_only_material: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bilan = _titled_bilan(doctor, alice)
    with pytest.raises(ValidationError):
        cda_deposit(actor=doctor.user, patient=alice, data=bilan)
    (digest,) = Path(ans.cache_dir()).iterdir()
    header = digest / "profils_structurationMinimale_ASIP-STRUCT-MIN-StrucMin.xsl.cache"
    cr_bio = digest / "CI-SIS_BIO-CR-BIO_2024.01.xsl.cache"
    written = {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in (header, cr_bio)}
    assert _whole(header) and _whole(cr_bio)
    # The CR-BIO file cut in the middle, as a disk full or a killed writer leaves it.
    whole_size = cr_bio.stat().st_size
    with cr_bio.open("r+b") as damaged:
        damaged.truncate(whole_size // 2)

    _new_process()
    counts = _counts(private_storage)
    with pytest.raises(ValidationError) as refused:
        cda_deposit(actor=doctor.user, patient=alice, data=bilan)
    assert CR_BIO_REFUSAL in " ".join(refused.value.messages)  # validated, not "unchecked"
    assert _counts(private_storage) == counts
    # The header's XSLT was read, not generated again; the damaged one was, whole again.
    assert (header.stat().st_ino, header.stat().st_mtime_ns) == written[header]
    assert cr_bio.stat().st_ino != written[cr_bio][0]
    assert _whole(cr_bio) and cr_bio.stat().st_size == whole_size
    assert "is damaged: generated again" in caplog.text
    assert sorted(path.name for path in digest.iterdir() if path.name.startswith(".")) == []


def test_warm_up_without_the_material_does_nothing_and_says_so(
    settings: Any, tmp_path: Path
) -> None:
    """The embedded quick start: no material, no compile, no cache written."""
    settings.DMP_ANS_CDA_DIR = str(tmp_path / "absent")
    settings.DMP_ANS_CDA_CACHE_DIR = str(tmp_path / "cache")
    out = StringIO()
    call_command("warm_ans_cda", stdout=out)
    assert "nothing to prepare" in out.getvalue()
    post_worker_init(SimpleNamespace(notify=lambda: None))
    assert not (tmp_path / "cache").exists()


RACER = """
import os, sys, time
import django
django.setup()
from records.cda import ans
document = open(sys.argv[1], "rb").read()
while time.time() < float(sys.argv[2]):  # both processes start generating together
    time.sleep(0.005)
failures = ans.schematron_failures(ans.material(), document, ans.CR_BIO)
print(len(failures), any("title" in failure.text for failure in failures))
"""


@pytest.mark.django_db
def test_two_processes_generating_at_once_both_validate_and_leave_one_whole_file(
    doctor: Professional, alice: Patient, private_storage: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys
    import time

    base = require_ans()
    document = tmp_path / "bilan.xml"
    document.write_bytes(_titled_bilan(doctor, alice))
    cache = tmp_path / "cache"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dmp_portal.settings",
        "DMP_EMBEDDED": "1",
        "DMP_ANS_CDA_DIR": str(base),
        "DMP_ANS_CDA_CACHE_DIR": str(cache),
    }
    start = str(time.time() + 4)
    racers = [
        subprocess.Popen(  # noqa: S603 - this interpreter, the script above
            [sys.executable, "-c", RACER, str(document), start],
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], results
    said = {out.split()[-1] for out, _ in results}
    assert said == {"True"}  # each validated: the volet's title rule failed, as it should
    (digest,) = cache.iterdir()
    # The volet's XSLT, and the header's value set when the material lacks it (the ANS
    # repository does not ship it; a deployment may have added it).
    shipped = (base / "schematrons" / ans.HEADER).parent / "include" / ans.MISSING_VALUE_SET
    expected = {"CI-SIS_BIO-CR-BIO_2024.01.xsl.cache"} | (
        set() if shipped.exists() else {ans.MISSING_VALUE_SET}
    )
    assert {path.name for path in digest.iterdir()} == expected
    assert _whole(digest / "CI-SIS_BIO-CR-BIO_2024.01.xsl.cache")


def test_a_worker_whose_material_cannot_be_run_still_starts_and_logs_why(
    settings: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The schema is there, the schematrons are not: the worker boots (the deposit will refuse
    with its clear message), the cause is in the log, and the command fails at deployment."""
    shutil.copytree(require_ans() / "infrastructure" / "cda", tmp_path / "infrastructure" / "cda")
    settings.DMP_ANS_CDA_DIR = str(tmp_path)
    settings.DMP_ANS_CDA_CACHE_DIR = str(tmp_path / "cache")
    post_worker_init(SimpleNamespace(notify=lambda: None))
    assert "cannot be compiled" in caplog.text
    assert "not compiled at worker start" in caplog.text
    with pytest.raises(CommandError, match="cannot be run"):
        call_command("warm_ans_cda", stdout=StringIO())


def test_the_worker_freezes_what_it_loaded_out_of_the_collectors_way() -> None:
    """After its warm-up a gunicorn worker moves what it loaded to the collector's permanent
    generation: full collections no longer walk Django's own objects on every few hundred
    requests (bench/bench_http.py measures the pages)."""
    import gc

    gc.unfreeze()
    try:
        post_worker_init(SimpleNamespace(notify=lambda: None))
        assert gc.get_freeze_count() > 10_000  # this process's modules, at the least
    finally:
        gc.unfreeze()
