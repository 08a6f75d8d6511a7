"""``manage.py warm_ans_cda``: at deployment, generate the XSLT of the CI-SIS schematrons into
the cache (``DMP_ANS_CDA_CACHE_DIR``) and prove the ANS material runs, so that the web workers
only compile it (``dmp_portal/gunicorn_conf.py``) and no doctor's deposit waits for it. Exits
with an error when the material is there but cannot be run; says so when it is absent.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from records.cda import ans


class Command(BaseCommand):
    help = "Prépare la validation CDA avec le matériel de l'ANS (cache des schématrons)."

    def handle(self, *args: Any, **options: Any) -> None:
        start = time.perf_counter()
        try:
            compiled = ans.warm_up()
        except ans.Unavailable as error:
            raise CommandError(f"ANS CDA material cannot be run: {error} (see the log)") from error
        if not compiled:
            self.stdout.write("No ANS CDA material (DMP_ANS_CDA_DIR): nothing to prepare.")
            return
        self.stdout.write(
            f"{len(compiled)} schematron(s) ready in {time.perf_counter() - start:.1f} s; "
            f"cache: {ans.cache_dir()}"
        )
