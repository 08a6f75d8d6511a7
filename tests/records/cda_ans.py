"""The ANS's own validation material (``ansforge/TestContenuCDA-3-0``) in the test suite: the
validator is the portal's (``records.cda.ans``, which the deposit runs); this module finds the
material for the tests and turns its absence into a skip.

The ANS repository carries no licence, so nothing of it is copied into this one: ``.ci/run``
fetches it at a pinned commit into ``var/ans-cda`` (or ``$DMP_ANS_CDA_DIR``). Without it the
tests that need it are skipped, unless ``DMP_REQUIRE_ANS_CDA=1`` (set by ``.ci/run``), which
turns the skip into a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from records.cda import ans
from records.cda.ans import CR_BIO, HEADER, Failure

__all__ = ["CR_BIO", "HEADER", "Failure", "require_ans", "schema_errors", "schematron_failures"]

ANS_COMMIT = "7cd489b39368809df9bcf2cfef5e5d6354438a02"
ROOT = Path(__file__).resolve().parents[2]


def ans_dir() -> Path:
    configured = os.environ.get("DMP_ANS_CDA_DIR")
    return Path(configured) if configured else ROOT / "var" / "ans-cda"


def require_ans() -> Path:
    base = ans.material(ans_dir())
    if base is None:
        reason = f"ANS CDA material absent from {ans_dir()} (.ci/run fetches it)"
        if os.environ.get("DMP_REQUIRE_ANS_CDA") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return base


def schema_errors(document: bytes) -> list[str]:
    errors = ans.schema_errors(require_ans(), etree.fromstring(document))
    return [f"line {error.line}: {error.message}" for error in errors]


def schematron_failures(document: bytes, schematron: str) -> list[Failure]:
    """The ``svrl:failed-assert`` of ``document`` that are errors (``records.cda.ans``)."""
    return ans.schematron_failures(require_ans(), document, schematron)
