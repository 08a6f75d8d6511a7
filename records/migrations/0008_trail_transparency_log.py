"""The access trail becomes a transparency log: no chain head, a Merkle tree and signed heads.

Converts the existing chain: first verifies it with the formula it was written with (every link
and digest, the head, and the signed checkpoints of the file if there is one) and refuses to go
on if it is broken (converting would launder a tampered trail); then gives every event the leaf
of its seq (``leaf_index = seq - 1``), stores the tree's nodes and signs its head (the
sequencer appends it to the file of signed heads on its next run). The leaf formula is frozen
here as it is on the day of this migration (every column but the leaf index and the erasable
texts, nulls left out); the hashing is RFC 9162's (``records.merkle``).

On PostgreSQL the events table is then rebuilt partitioned by month of ``at`` (its primary key
becomes (id, at), ``public_id`` unique with ``at``; a default partition catches what no month
holds); SQLite keeps a plain table. The reverse rebuilds a plain table and the hash chain (seq
in leaf order, then the events not yet in the tree; ids renumbered to their seq, as 0007 left
them) and sets the file of signed heads aside (renamed): converting again starts a new one.
"""

import datetime
import hashlib
import importlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from records import merkle

chain = importlib.import_module("records.migrations.0007_access_event_detail_digest")
TrailBroken = chain.TrailBroken

BATCH = 5000
TABLE = "records_accessevent"
LEAF = (
    "id", "public_id", "at", "actor_id", "actor_rpps", "actor_profession", "patient_id",
    "patient_insc", "entry_public_id", "action", "mode", "detail_digest", "request_id",
)
CHECKPOINT_CONTEXT = b"DMP Portal access trail checkpoint, version 1\n"


def _chain_rows(AccessEvent, **where):
    last = 0
    while True:
        rows = list(
            AccessEvent.objects.filter(seq__gt=last, **where).order_by("seq").values(*chain.FIELDS)[:BATCH]
        )
        if not rows:
            return
        yield from rows
        last = rows[-1]["seq"]


def _verify_chain(apps):
    """The chain as 0007 sealed it: every event in sequence, linked, with its digest and texts;
    the head at its end; every signed checkpoint matching. Returns {seq: digest} of none."""
    AccessEvent = apps.get_model("records", "AccessEvent")
    Head = apps.get_model("records", "AccessChainHead")
    previous, last = chain.GENESIS, 0
    for row in _chain_rows(AccessEvent):
        if (
            row["seq"] != last + 1
            or row["previous_digest"] != previous
            or chain._sealed_check(previous, row) != row["digest"]
        ):
            raise TrailBroken(
                f"The access trail is broken at event #{row['seq']} (id {row['id']}): it is "
                "not converted, since that would hide the break. Nothing was changed. "
                "Investigate with verify_access_log on the previous release."
            )
        previous, last = row["digest"], row["seq"]
    head = Head.objects.filter(pk=1).first()
    if ((head.seq, head.digest) if head else (0, chain.GENESIS)) != (last, previous):
        raise TrailBroken(
            f"The chain head does not match the trail's end (#{last}): events are missing at "
            "the end. Nothing was changed."
        )
    _verify_checkpoints(AccessEvent, last)
    return last


def _verify_checkpoints(AccessEvent, last):
    path = Path(settings.DMP_TRAIL_CHECKPOINT_DIR) / "checkpoints.jsonl"
    if not path.exists():
        return
    public = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(settings.DMP_TRAIL_SIGNING_KEY)
    ).public_key()
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            body = {"at": record["at"], "digest": record["digest"], "seq": record["seq"]}
            signed = CHECKPOINT_CONTEXT + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
            public.verify(bytes.fromhex(record["signature"]), signed)
        except Exception as error:  # noqa: BLE001 - any unreadable or forged line stops it
            raise TrailBroken(
                f"Checkpoint line {number} of {path} does not verify ({error!r}). Nothing was changed."
            ) from None
        seq = int(record["seq"])
        stored = AccessEvent.objects.filter(seq=seq).values_list("digest", flat=True).first()
        if seq and (seq > last or stored != record["digest"]):
            raise TrailBroken(
                f"Checkpoint line {number} of {path} anchors event #{seq}, which the trail no "
                "longer holds as signed. Nothing was changed."
            )


def _leaf(row):
    fields = {name: row[name] for name in LEAF}
    for name, value in fields.items():
        if isinstance(value, datetime.datetime):
            fields[name] = value.astimezone(datetime.UTC).isoformat()
        elif value is not None and name.endswith("public_id"):
            fields[name] = str(value)
    return merkle.leaf_hash(merkle.leaf_data(fields))


def _immediate(schema_editor):
    # Foreign keys checked at each statement: PostgreSQL refuses to ALTER a table with checks
    # still pending at the end of the transaction.
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def to_tree(apps, schema_editor):
    _immediate(schema_editor)
    last = _verify_chain(apps)
    AccessEvent = apps.get_model("records", "AccessEvent")
    TreeHead = apps.get_model("records", "TreeHead")
    table = schema_editor.quote_name(TABLE)
    insert = "INSERT INTO records_trailnode (level, index, hash) VALUES (%s, %s, %s)"
    insert = insert.replace("index", schema_editor.quote_name("index"))
    tree = merkle.CompactRange()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET leaf_index = seq - 1")  # noqa: S608
        nodes = []
        for row in _chain_rows(AccessEvent):
            nodes += [(level, index, value.hex()) for level, index, value in tree.append(_leaf(row))]
            if len(nodes) >= BATCH:
                cursor.executemany(insert, nodes)
                nodes = []
        cursor.executemany(insert, nodes)
    assert tree.size == last
    if not last:
        return
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(settings.DMP_TRAIL_SIGNING_KEY))
    raw = private.public_key().public_bytes_raw()
    at = timezone.now().astimezone(datetime.UTC)
    root = tree.root().hex()
    TreeHead.objects.create(
        size=tree.size,
        root=root,
        at=at,
        key=hashlib.sha256(raw).hexdigest()[:16],
        signature=private.sign(merkle.head_message(tree.size, root, at.isoformat())).hex(),
    )


def from_tree(apps, schema_editor):
    """Back to the chain: seq in leaf order (then the events not in the tree, by id), ids
    renumbered to their seq, sealed with 0007's formula, the head at the end."""
    _immediate(schema_editor)
    AccessEvent = apps.get_model("records", "AccessEvent")
    Head = apps.get_model("records", "AccessChainHead")
    table = schema_editor.quote_name(TABLE)
    ordered = AccessEvent.objects.order_by(models.F("leaf_index").asc(nulls_last=True), "id")
    ids = list(ordered.values_list("id", flat=True))
    previous = chain.GENESIS
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = -id")  # noqa: S608
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            rows = {
                -row["id"]: row
                for row in AccessEvent.objects.filter(id__in=[-i for i in chunk]).values(
                    *[name for name in chain.FIELDS if name not in ("seq", "previous_digest", "digest")]
                )
            }
            changes = []
            for offset, old_id in enumerate(chunk):
                row = rows[old_id]
                row["seq"] = row["id"] = start + offset + 1
                row["previous_digest"] = previous
                digest = chain.sealed_digest(previous, row)
                changes.append((row["id"], row["seq"], previous, digest, -old_id))
                previous = digest
            cursor.executemany(
                f"UPDATE {table} SET id = %s, seq = %s, previous_digest = %s, digest = %s "  # noqa: S608
                "WHERE id = %s",
                changes,
            )
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), "  # noqa: S608
                f"COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            )
    apps.get_model("records", "TrailNode").objects.all().delete()
    apps.get_model("records", "TreeHead").objects.all().delete()
    # The heads signed the tree that is gone: set them aside, so that converting again starts
    # a new file (the old one stays, for the record).
    heads = Path(settings.DMP_TRAIL_CHECKPOINT_DIR) / "tree-heads.jsonl"
    if heads.exists():
        heads.rename(heads.with_name(f"tree-heads-until-{timezone.now():%Y%m%dT%H%M%S%f}.jsonl"))
    if ids:
        Head.objects.update_or_create(pk=1, defaults={"seq": len(ids), "digest": previous})


# --- PostgreSQL: the events table partitioned by month ------------------------------------------


def _rebuild(schema_editor, *, partitioned):
    """Rebuild the events table, partitioned by month of ``at`` or plain, with its rows, its
    constraints (the primary key and the unique public id with or without ``at``), its foreign
    keys and its indexes under the same names."""
    if schema_editor.connection.vendor != "postgresql":
        return
    old = f"{TABLE}_unpartitioned" if partitioned else f"{TABLE}_partitioned"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass",
            [TABLE],
        )
        constraints = cursor.fetchall()
        names = {name for name, _kind, _definition in constraints}
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = %s",
            [TABLE],
        )
        indexes = [definition for name, definition in cursor.fetchall() if name not in names]
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {old}")
        how = " PARTITION BY RANGE (at)" if partitioned else ""
        cursor.execute(
            f"CREATE TABLE {TABLE} (LIKE {old} INCLUDING DEFAULTS INCLUDING IDENTITY){how}"
        )
        if partitioned:
            cursor.execute(f"SELECT MIN(at) FROM {old}")  # noqa: S608
            first = cursor.fetchone()[0] or timezone.now()
            month = first.astimezone(datetime.UTC).date().replace(day=1)
            stop = timezone.now().astimezone(datetime.UTC).date().replace(day=1)
            for _ahead in range(3):  # this month and the next three
                stop = (stop + datetime.timedelta(days=32)).replace(day=1)
            while month <= stop:
                following = (month + datetime.timedelta(days=32)).replace(day=1)
                cursor.execute(
                    f"CREATE TABLE {TABLE}_{month:%Y_%m} PARTITION OF {TABLE} FOR VALUES "
                    f"FROM ('{month.isoformat()}') TO ('{following.isoformat()}')"
                )
                month = following
            cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {old}")  # noqa: S608
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), "  # noqa: S608
            f"COALESCE(MAX(id), 0) + 1, false) FROM {TABLE}"
        )
        cursor.execute(f"DROP TABLE {old} CASCADE")
        for name, kind, definition in constraints:
            if kind in ("p", "u"):
                columns = definition[definition.index("(") + 1 : definition.index(")")]
                columns = ", ".join(c for c in columns.split(", ") if c != "at")
                if partitioned:
                    columns += ", at"
                definition = f"{definition[: definition.index('(')]}({columns})"
            cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")
        for definition in indexes:
            cursor.execute(definition)


def partition(apps, schema_editor):
    _rebuild(schema_editor, partitioned=True)


def unpartition(apps, schema_editor):
    _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):

    dependencies = [
        ("records", "0007_access_event_detail_digest"),
    ]

    operations = [
        migrations.CreateModel(
            name="TrailNode",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("level", models.PositiveSmallIntegerField()),
                ("index", models.PositiveBigIntegerField()),
                ("hash", models.CharField(max_length=64)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("level", "index"), name="records_trailnode_position")
                ],
            },
        ),
        migrations.CreateModel(
            name="TreeHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("size", models.PositiveBigIntegerField(unique=True)),
                ("root", models.CharField(max_length=64)),
                ("at", models.DateTimeField()),
                ("key", models.CharField(max_length=16)),
                ("signature", models.CharField(max_length=128)),
            ],
            options={"verbose_name": "tête d'arbre signée"},
        ),
        migrations.AddField(
            model_name="accessevent",
            name="leaf_index",
            field=models.PositiveBigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RemoveConstraint(model_name="accessevent", name="records_event_digest_unique"),
        # Nullable first, so that the way back can add them and fill them before NOT NULL.
        migrations.AlterField(
            model_name="accessevent", name="seq", field=models.PositiveBigIntegerField(null=True)
        ),
        migrations.AlterField(
            model_name="accessevent",
            name="previous_digest",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="accessevent", name="digest", field=models.CharField(max_length=64, null=True)
        ),
        migrations.RunPython(to_tree, from_tree),
        migrations.RemoveField(model_name="accessevent", name="seq"),
        migrations.RemoveField(model_name="accessevent", name="previous_digest"),
        migrations.RemoveField(model_name="accessevent", name="digest"),
        migrations.DeleteModel(name="AccessChainHead"),
        migrations.AddIndex(
            model_name="accessevent",
            index=models.Index(fields=["leaf_index"], name="records_event_leaf"),
        ),
        migrations.AddIndex(
            model_name="accessevent",
            index=models.Index(
                condition=models.Q(("leaf_index__isnull", True)),
                fields=["id"],
                name="records_event_pending",
            ),
        ),
        migrations.RunPython(partition, unpartition),
    ]
