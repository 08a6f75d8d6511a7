"""Stateless web workers: a professional's journey in a real Chromium through a round-robin
proxy in front of two gunicorn servers, each with its own local disk, sharing only PostgreSQL,
Redis and the S3 storage (tests/services.py). Every request goes to the other server than the
one before: the login's two steps, the timeline, a deposit and its reading each cross servers.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.cast import PASSWORD, totp_code
from tests.live import RoundRobinProxy, free_port, gunicorn, manage, server
from tests.services import BUCKET

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CAST = """
from tests.cast import make_patient, make_professional, make_user, ALICE_NIR
from identity.models import Role
admin = make_user("admin@stateless.example", role=Role.ADMINISTRATOR, staff=True)
doctor = make_professional("doctor@stateless.example", verifier=admin, first_name="Claire",
                           last_name="Martin")
alice = make_patient(opened_by=doctor, nir=ALICE_NIR, medecin_traitant=True)
print(alice.public_id)
"""


def test_journey_through_two_workers_behind_a_round_robin_proxy(
    page: Any, production_env: dict[str, str], tmp_path: Path
) -> None:
    # Plain HTTP end to end here (no TLS proxy in front of the test proxy): cookies unsecured.
    env = {**production_env, "DMP_HTTPS": "0", "DMP_BEHIND_PROXY": "0"}
    manage("migrate", "--noinput", env=env)
    public_id = manage("shell", "-c", CAST, env=env).strip().splitlines()[-1]

    ports = [free_port(), free_port()]
    # Two machines: each server has its own var/ (local disk); nothing is shared but the
    # database, the cache and the object storage.
    envs = [{**env, "DMP_VAR_DIR": str(tmp_path / f"machine-{n}")} for n in (1, 2)]
    for machine in envs:
        Path(machine["DMP_VAR_DIR"]).mkdir()
        manage("collectstatic", "--noinput", env=machine)
    with (
        server(gunicorn(ports[0], workers=1), port=ports[0], env=envs[0]) as first,
        server(gunicorn(ports[1], workers=1), port=ports[1], env=envs[1]) as second,
        RoundRobinProxy([first, second]) as proxy,
    ):
        base = proxy.url
        page.goto(f"{base}/accounts/login/")
        page.get_by_label("Courriel").fill("doctor@stateless.example")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Connexion").click()
        page.wait_for_url("**/accounts/2fa/authenticate/")
        page.get_by_label("Code").fill(totp_code())
        page.get_by_role("button", name="Connexion", exact=True).click()
        page.wait_for_url(f"{base}/")
        assert "Claire Martin" in page.content()

        page.goto(f"{base}/pro/dmp/{public_id}/comptes-rendus/nouveau/")
        page.get_by_label("Type de document").select_option("11488-4")
        page.get_by_label("Titre").fill("Consultation à deux serveurs")
        page.get_by_label("Date de l'acte").fill(
            f"{datetime.datetime.now(tz=datetime.UTC):%Y-%m-%d}"
        )
        page.get_by_label("Texte du compte rendu").fill("Examen clinique normal.")
        page.get_by_role("button", name="Déposer dans le DMP").click()

        page.goto(f"{base}/pro/dmp/{public_id}/documents/")
        page.get_by_role("link", name="Consultation à deux serveurs").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Consultation à deux serveurs"
        assert "Examen clinique normal." in page.content()
        # Static files came through as well (hashed, from either server).
        assert page.evaluate(
            "[...document.styleSheets].some("
            "s => s.href && s.href.includes('/static/') && s.cssRules.length > 0)"
        )
        screenshot(page, "stateless-entry")

        _imaging_confirmation_across_servers(page, base, public_id, tmp_path, envs[0])

        page.get_by_role("button", name="Se déconnecter").click()
        page.wait_for_url(f"{base}/")
        assert page.get_by_role("link", name="Se connecter").first.is_visible()

    # Both servers answered a fair share of the journey's requests.
    assert min(proxy.served.values()) >= 5, proxy.served


def _staged_keys(env: dict[str, str]) -> list[str]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=env["DMP_S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="dmp/imaging-staging/")
    return [item["Key"] for item in listed.get("Contents", [])]


def _other_patient_files(folder: Path, count: int) -> list[str]:
    """CT slices whose DICOM identity is not Alice's: the upload asks for a confirmation."""
    from pydicom.uid import generate_uid

    from tests.imaging import dicom_factory as F

    study, series = generate_uid(), generate_uid()
    folder.mkdir()
    paths = []
    for number in range(1, count + 1):
        ds = F.ct_slice(32, 32, seed=number)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.InstanceNumber = study, series, number
        ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "DURAND^PAUL", "19500101", "M"
        paths.append(str(F.write(folder / f"{number}.dcm", ds)))
    return paths


def _imaging_confirmation_across_servers(
    page: Any, base: str, public_id: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """An upload whose DICOM identity differs from the DMP's is staged on the shared storage
    by one server; the confirmation page and the decision reach the other one (round robin).
    Confirmed: imported. Cancelled, or abandoned then swept: nothing left on S3."""
    import re

    imaging = f"{base}/pro/dmp/{public_id}/imagerie/"
    picker = "Fichiers DICOM ou archive ZIP d'un examen"
    for attempt, decision in enumerate(("confirm", "cancel", "abandon")):
        page.goto(imaging)
        files = _other_patient_files(tmp_path / f"upload-{attempt}", 2)
        page.get_by_label(picker).set_input_files(files)
        page.get_by_role("button", name="Vérifier et déposer").click()
        page.wait_for_url(re.compile(r".*/imagerie/confirmer/.*"))
        assert "2 fichiers vérifiés attendent votre décision" in page.content()
        assert len(_staged_keys(env)) == 2  # on the shared storage, not a server's disk
        if decision == "confirm":
            page.get_by_role("button", name=re.compile("Ce sont bien les images")).click()
            page.wait_for_url(re.compile(r".*/imagerie/\?depot=.*"))
            assert "2 image(s) enregistrée(s)" in page.content()
            screenshot(page, "stateless-imaging-confirmed")
        elif decision == "cancel":
            page.get_by_role("button", name="Annuler : ne rien déposer").click()
            page.wait_for_url(imaging)
            assert "Dépôt annulé" in page.content()
        else:  # abandoned: the hourly sweeper removes it once expired
            output = manage("sweep_imaging_orphans", "--grace-hours", "0", env=env)
            assert "Dépôts en attente" in output and ": 1 ;" in output, output
        assert _staged_keys(env) == []
    # Nothing was ever staged on a server's own disk.
    for machine in ("machine-1", "machine-2"):
        assert not list((tmp_path / machine).rglob("*.dcm"))
