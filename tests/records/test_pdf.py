"""The bounded PDF inspector: content decides, never the name or the declared type."""

from __future__ import annotations

import re
import zlib

import pytest

from records.pdf import MAX_PDF_BYTES, PdfError, build_text_pdf, inspect_pdf


def _xref_ok(data: bytes) -> bool:
    start = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    lines = data[start:].split(b"\n")
    count = int(lines[1].split()[1])
    return all(data[int(lines[2 + n][:10]) :].startswith(b"%d 0 obj" % n) for n in range(1, count))


def test_built_pdf_is_valid_and_counts_its_pages() -> None:
    data = build_text_pdf("Compte rendu — opéré (ça)", [f"ligne {i} \\ ( )" for i in range(100)])
    assert _xref_ok(data)
    info = inspect_pdf(data)
    assert info.pages == 3
    assert info.version == "1.4"
    assert len(info.sha256) == 64


_SIMPLE = build_text_pdf("x", ["y"])


def _objstm_pdf(count: int = 7, *, encrypt: bool = False, padding: int = 0) -> bytes:
    """A PDF 1.5 whose catalogue and page tree live in a compressed object stream."""
    packed = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count %d >>" % count,
    ]
    header, body, offset = b"", b"", 0
    for number, obj in enumerate(packed, start=1):
        header += b"%d %d " % (number, offset)
        body += obj + b"\n" + b" " * padding
        offset = len(body)
    stream = zlib.compress(header + body)
    out = bytearray(b"%PDF-1.5\n")
    out += (
        b"5 0 obj\n<< /Type /ObjStm /N 2 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (
            len(header),
            len(stream),
        )
    )
    out += stream + b"\nendstream\nendobj\n"
    xref = len(out)
    extra = b" /Encrypt 9 0 R" if encrypt else b""
    out += (
        b"6 0 obj\n<< /Type /XRef /Root 1 0 R /Size 7%s >>\nstream\n\nendstream\nendobj\n" % extra
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_page_count_found_inside_a_compressed_object_stream() -> None:
    assert inspect_pdf(_objstm_pdf(7)).pages == 7


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "vide"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "n'est pas un PDF"),
        (b"MZ\x90\x00" + b"\x00" * 100, "n'est pas un PDF"),
        (b" %PDF-1.4\n" + build_text_pdf("x", ["y"])[9:], "n'est pas un PDF"),
        (build_text_pdf("x", ["y"] * 10)[:300], "marque de fin absente"),
        (b"%PDF-1.4\nrubbish\n%%EOF\n", "startxref"),
        (b"%PDF-1.4\nrubbish\nstartxref\n999999\n%%EOF\n", "références croisées"),
        (
            build_text_pdf("x", ["y"]).replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt 9 0 R"),
            "chiffré",
        ),
        (_objstm_pdf(3, encrypt=True), "chiffré"),
        (build_text_pdf("x", ["y"]).replace(b"/Count 1", b"/Count 0"), "aucune page"),
        (_objstm_pdf(99_999_999), "trop de pages"),
        (build_text_pdf("x", ["y"]).replace(b"/Pages 2 0 R", b"/Pagez 2 0 R"), "arbre des pages"),
    ],
)
def test_refused_with_a_french_message(data: bytes, message: str) -> None:
    with pytest.raises(PdfError, match=message):
        inspect_pdf(data)


def test_size_cap() -> None:
    with pytest.raises(PdfError, match="20 Mo"):
        inspect_pdf(b"%PDF-1.4\n" + b"0" * MAX_PDF_BYTES)


def test_inflate_bomb_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import records.pdf

    monkeypatch.setattr(records.pdf, "_INFLATE_BUDGET", 10_000)
    assert inspect_pdf(_objstm_pdf(2, padding=1000)).pages == 2
    with pytest.raises(PdfError, match="trop volumineux"):
        inspect_pdf(_objstm_pdf(2, padding=1_000_000))  # ~2 kB compressed, 2 MB inflated
