"""gunicorn settings the deployment loads (``gunicorn -c python:dmp_portal.gunicorn_conf``).

A worker compiles the ANS's CI-SIS schematrons (``records.cda.ans.warm_up``: ~10 s of Saxon,
which holds the GIL, so a background thread would freeze the worker just the same) before it
takes its first request, so that no CDA deposit waits for it; the other workers serve
meanwhile (``--max-requests`` recycles one at a time). Without the material it does nothing.
``manage.py warm_ans_cda`` at deployment leaves the workers only the compile.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("dmp_portal.gunicorn")


def post_worker_init(worker: Any) -> None:
    from records.cda import ans

    worker.notify()  # the arbiter's timeout counts from here, not from the fork
    start = time.perf_counter()
    try:
        compiled = ans.warm_up()
    except Exception:  # logged; the deposit refuses with a clear message, the rest is served
        log.exception("CI-SIS schematrons not compiled at worker start")
        return
    if compiled:
        log.info("CI-SIS schematrons compiled in %.1f s", time.perf_counter() - start)
