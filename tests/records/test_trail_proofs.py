"""A patient proves, with a small standalone program, that an event of their history is in the
trail's signed tree; the Merkle proofs themselves (RFC 9162) hold for every shape of tree."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional
from records import merkle
from records.models import AccessAction, AccessEvent
from records.trail import details_erase, log_integrate, record_access
from tests.cast import without_csrf

CHECKER = Path(merkle.__file__)


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def _tree(n: int) -> tuple[dict[merkle.Node, bytes], merkle.CompactRange]:
    nodes: dict[merkle.Node, bytes] = {}
    tree = merkle.CompactRange()
    for leaf in _leaves(n):
        for level, index, value in tree.append(leaf):
            nodes[(level, index)] = value
    return nodes, tree


def _reference_root(leaves: list[bytes]) -> bytes:
    """MTH of RFC 9162 §2.1.1, written the slow and obvious way."""
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


def test_roots_inclusion_and_consistency_proofs_for_every_small_tree() -> None:
    nodes, _tree_unused = _tree(40)
    for size in range(1, 41):
        root = _reference_root(_leaves(size))
        rest = merkle.CompactRange()
        for leaf in _leaves(size):
            rest.append(leaf)
        assert rest.root() == root
        for index in range(size):
            path = merkle.ranges_hashes(merkle.inclusion_ranges(index, size), lambda k: nodes)
            assert merkle.root_from_inclusion(index, size, _leaves(size)[index], path) == root
            with pytest.raises(merkle.ProofError):
                if path:
                    merkle.root_from_inclusion(index, size, _leaves(size)[index], path[:-1])
                else:
                    raise merkle.ProofError("a tree of one leaf has an empty path")
            wrong = merkle.root_from_inclusion(index, size, merkle.leaf_hash(b"forged"), path)
            assert wrong != root
        for old in range(1, size + 1):
            proof = merkle.ranges_hashes(merkle.consistency_ranges(old, size), lambda k: nodes)
            old_root = _reference_root(_leaves(old))
            merkle.verify_consistency(old, size, old_root, root, proof)
            if old < size:
                with pytest.raises(merkle.ProofError):
                    merkle.verify_consistency(old, size, merkle.leaf_hash(b"x"), root, proof)


def test_the_empty_tree_and_the_leaf_formula_are_rfc_9162s() -> None:
    assert merkle.CompactRange().root().hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.leaf_hash(b"") == merkle.hashlib.sha256(b"\x00").digest()


# --- The patient's proof ---------------------------------------------------------------------


def _check(proof: bytes, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The documented command, as the patient runs it: the checker alone, in a bare directory."""
    directory = tmp_path / "bare"
    directory.mkdir(exist_ok=True)
    (directory / "verifier-preuve.py").write_bytes(CHECKER.read_bytes())
    (directory / "preuve.json").write_bytes(proof)
    return subprocess.run(
        [sys.executable, "-I", "verifier-preuve.py", "preuve.json"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.django_db
def test_a_patient_proves_an_access_with_the_standalone_checker(
    client: Client, alice: Patient, doctor: Professional, tmp_path: Path
) -> None:
    event = record_access(
        actor=doctor.user, patient=alice, action=AccessAction.ENTRY_VIEW, detail="courbe HbA1c"
    )
    log_integrate()
    for _ in range(5):  # the tree grows after it: the proof is against the latest head
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    log_integrate()
    client.force_login(alice.user)
    checker = client.get(reverse("records:proof_checker"))
    assert checker.content == CHECKER.read_bytes()
    response = client.get(reverse("records:my_history_proof", args=[event.public_id]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    proof = json.loads(response.content)
    assert proof["event"]["public_id"] == str(event.public_id)
    assert proof["texts"]["detail"] == "courbe HbA1c"
    assert proof["tree_head"]["size"] > proof["leaf_index"]
    result = _check(response.content, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: event {event.public_id}")
    # The download is a read of the patient's trail: it is traced.
    last = AccessEvent.objects.filter(patient=alice).order_by("-id").first()
    assert last is not None and last.detail == "preuve d'inclusion"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda p: p["event"].update(action="dmp_view"), "not in the tree"),
        (lambda p: p["event"].update(actor_rpps="10000000000"), "not in the tree"),
        (lambda p: p["texts"].update(detail="rien"), "texts do not match"),
        (lambda p: p.update(leaf_index=p["leaf_index"] - 1), "not in the tree"),
        (lambda p: p["tree_head"].update(at="2020-01-01T00:00:00+00:00"), "signature is wrong"),
        (lambda p: p.update(public_key="00" * 32), "signature is wrong"),
        (lambda p: p.pop("audit_path"), "unreadable"),
    ],
)
@pytest.mark.django_db
def test_a_doctored_proof_fails_the_checker(
    client: Client,
    alice: Patient,
    doctor: Professional,
    tmp_path: Path,
    change: Any,
    problem: str,
) -> None:
    event = record_access(
        actor=doctor.user, patient=alice, action=AccessAction.ENTRY_VIEW, detail="x"
    )
    log_integrate()
    client.force_login(alice.user)
    proof = json.loads(
        client.get(reverse("records:my_history_proof", args=[event.public_id])).content
    )
    change(proof)
    result = _check(json.dumps(proof).encode(), tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("FAILED:") and problem in result.stderr


@pytest.mark.django_db
def test_an_erased_event_still_proves_its_facts(
    alice: Patient, doctor: Professional, tmp_path: Path
) -> None:
    """After a purge's erasure the texts are gone; the leaf, and so the proof, still hold."""
    from records import trail

    event = record_access(
        actor=doctor.user, patient=alice, action=AccessAction.ENTRY_VIEW, detail="motif"
    )
    log_integrate()
    details_erase(patient=alice)
    event.refresh_from_db()
    proof = trail.inclusion_proof(event)
    assert proof is not None and proof["texts"] is None
    result = _check(json.dumps(proof).encode(), tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_an_event_not_yet_in_the_tree_is_shown_and_its_proof_waits(
    client: Client, alice: Patient, doctor: Professional
) -> None:
    event = record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    client.force_login(alice.user)
    history = client.get(reverse("records:my_history"))
    shown = [each for visit in history.context["visits"] for each in visit.events]
    assert event in shown  # the patient sees it at once
    assert "en cours de scellement" in history.content.decode()
    response = client.get(reverse("records:my_history_proof", args=[event.public_id]), follow=True)
    assert response.redirect_chain == [(reverse("records:my_history"), 302)]
    assert "pas encore scellé" in response.content.decode()
    log_integrate()
    assert (
        client.get(reverse("records:my_history_proof", args=[event.public_id])).status_code == 200
    )


@pytest.mark.django_db
def test_another_patients_event_is_answered_like_a_missing_one(
    client: Client, alice: Patient, bob: Patient, doctor: Professional
) -> None:
    event = record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    log_integrate()
    client.force_login(bob.user)
    theirs = client.get(reverse("records:my_history_proof", args=[event.public_id]))
    missing = client.get(reverse("records:my_history_proof", args=[uuid.uuid4()]))
    assert theirs.status_code == missing.status_code == 404
    assert without_csrf(theirs.content) == without_csrf(missing.content)


@pytest.mark.django_db
@pytest.mark.parametrize("events", [10, 1000])
def test_the_proof_costs_a_constant_number_of_queries(
    client: Client,
    alice: Patient,
    doctor: Professional,
    events: int,
    django_assert_num_queries: Any,
) -> None:
    AccessEvent.objects.bulk_create(
        [AccessEvent(action=AccessAction.DMP_VIEW, patient=alice) for _ in range(events)]
    )
    target = record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    log_integrate()
    client.force_login(alice.user)
    url = reverse("records:my_history_proof", args=[target.public_id])
    client.get(url)  # warm the session
    # 1 session, 2 user, 3 own patient, 4 the event, 5 the access event (INSERT), 6 the latest
    # head, 7 the nodes of the audit path (one query, whatever the size of the tree).
    with django_assert_num_queries(7):
        response = client.get(url)
    assert response.status_code == 200


@pytest.mark.django_db
def test_the_history_explains_the_proofs_in_english_too(
    client: Client, alice: Patient, doctor: Professional
) -> None:
    record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    client.force_login(alice.user)
    body = client.get(reverse("records:my_history"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "being sealed" in body and "checking program" in body
    assert reverse("records:proof_checker") in body
