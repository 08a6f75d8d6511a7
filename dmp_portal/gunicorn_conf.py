"""gunicorn settings the deployment loads (``gunicorn -c python:dmp_portal.gunicorn_conf``).

A worker compiles the ANS's CI-SIS schematrons (``records.cda.ans.warm_up``: ~10 s of Saxon,
which holds the GIL, so a background thread would freeze the worker just the same) before it
takes its first request, so that no CDA deposit waits for it; the other workers serve
meanwhile (``--max-requests`` recycles one at a time). Without the material it does nothing.
``manage.py warm_ans_cda`` at deployment leaves the workers only the compile. Then the worker
freezes what it has loaded out of the garbage collector's way (``gc.freeze``).
"""

from __future__ import annotations

import gc
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
        compiled = []
    if compiled:
        log.info("CI-SIS schematrons compiled in %.1f s", time.perf_counter() - start)
    # What the worker loaded to serve (Django, the URL and template machinery, the schematrons:
    # some hundreds of thousands of objects that live as long as it) leaves the collector's
    # generations: its full collections, which walked all of them every few hundred requests,
    # now walk only what requests leave behind (bench/bench_http.py: timeline ÷ Fortunes
    # about 0.20 -> 0.23 on the machine of issue 17).
    gc.collect()
    gc.freeze()
