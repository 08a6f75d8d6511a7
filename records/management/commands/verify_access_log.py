"""``manage.py verify_access_log``: walk the hash chain of the access trail, check it against its
signed checkpoints, then sign a new checkpoint of its head.

Exit status 0 when intact; 1 naming the first problem otherwise: an event altered (any stored
field), deleted or re-ordered, free texts that do not match their commitment, a chain head that
does not match the trail, a checkpoint whose signature is wrong, or a trail that no longer holds
what a checkpoint signed (its tail removed and the head rewound, or events rewritten and
re-hashed). Events whose texts a purge erased are checked by their facts and commitment only.
No checkpoint is written when the trail is broken.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from records.management.commands.checkpoint_access_log import checkpoint_errors
from records.trail import (
    checkpoint_path,
    checkpoint_publish,
    checkpoints_verify,
    key_id,
    verify_chain,
)


class Command(BaseCommand):
    help = (
        "Vérifie la chaîne de hachage de la traçabilité des accès et ses points de contrôle "
        "signés, puis signe un nouveau point de contrôle."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        checked, broken = verify_chain()
        if broken is not None:
            before = "before it" if broken.event is not None else "up to there"
            raise CommandError(f"{broken} ({checked} events verified {before}.)")
        with checkpoint_errors():
            anchored = checkpoints_verify()
            checkpoint = checkpoint_publish()
        self.stdout.write(
            self.style.SUCCESS(
                f"Access trail intact: {checked} events verified, {anchored} checkpoints "
                f"matched. Checkpoint #{checkpoint.seq} signed (key {key_id()}) in "
                f"{checkpoint_path()}."
            )
        )
