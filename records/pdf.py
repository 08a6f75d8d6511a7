"""A small, bounded PDF inspector (and a tiny PDF writer for demo data and tests).

Framework-free. ``inspect_pdf`` judges an uploaded file by its content only, before anything
is stored: the ``%PDF-`` signature at byte 0, an end-of-file marker and a ``startxref``
offset that lands on a cross-reference section, no encryption (``/Encrypt`` in a trailer or
cross-reference stream dictionary), and a readable page count (catalogue → page tree →
``/Count``, following objects into compressed object streams when needed). Everything is
bounded: the input size, the bytes inflated from object streams, the number of streams and
the page count. Failures raise ``PdfError`` with a French message for the user.

No PDF library is installed here and the portal never renders PDFs itself (they are served
as sandboxed attachments), so this does not attempt a full parse: it only refuses what is
not a PDF, what is damaged in ways that matter, and what is encrypted.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_PAGES", "MAX_PDF_BYTES", "PdfError", "PdfInfo", "build_text_pdf", "inspect_pdf"]

MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_PAGES = 5000
_INFLATE_BUDGET = 64 * 1024 * 1024  # total bytes inflated from object streams, per file
_MAX_OBJECT_STREAMS = 2000
_TAIL = 2048

_HEADER_RE = re.compile(rb"%PDF-([12])\.([0-9])")
_STARTXREF_RE = re.compile(rb"startxref\s+([0-9]{1,12})\s+%%EOF")
_XREF_AT_RE = re.compile(rb"\s*(?:xref\b|[0-9]{1,10}\s+[0-9]{1,5}\s+obj\b)")
_ENCRYPT_RE = re.compile(rb"/Encrypt\s*(?:[0-9]+\s+[0-9]+\s+R|<<)")
_OBJ_RE = re.compile(rb"(?<![0-9])([0-9]{1,10})\s+([0-9]{1,5})\s+obj\b")
_ROOT_RE = re.compile(rb"/Root\s+([0-9]{1,10})\s+[0-9]{1,5}\s+R")
_PAGES_RE = re.compile(rb"/Pages\s+([0-9]{1,10})\s+[0-9]{1,5}\s+R")
_COUNT_RE = re.compile(rb"/Count\s+([0-9]{1,12})(?:\s+([0-9]{1,5})\s+R)?")
_OBJSTM_RE = re.compile(rb"/Type\s*/ObjStm\b")
_INT_ENTRY = {key: re.compile(rb"/" + key + rb"\s+([0-9]{1,10})") for key in (b"N", b"First")}
_STREAM_RE = re.compile(rb"stream\r?\n")


class PdfError(ValueError):
    """The file is not an acceptable PDF; ``str(error)`` is the French message."""


@dataclass(frozen=True, slots=True)
class PdfInfo:
    pages: int
    sha256: str
    size: int
    version: str


_CORRUPT = "Le PDF est endommagé ou incomplet ({why}) : enregistrez-le de nouveau puis réessayez."


def _corrupt(why: str) -> PdfError:
    return PdfError(_CORRUPT.format(why=why))


def inspect_pdf(data: bytes, *, max_bytes: int = MAX_PDF_BYTES) -> PdfInfo:
    """Check that ``data`` is a readable, unencrypted PDF; return its page count and digest."""
    if not data:
        raise PdfError("Le fichier est vide.")
    if len(data) > max_bytes:
        raise PdfError(f"Le fichier dépasse la taille maximale de {max_bytes // (1024 * 1024)} Mo.")
    header = _HEADER_RE.match(data)
    if header is None:
        raise PdfError(
            "Ce fichier n'est pas un PDF : il ne commence pas par la signature « %PDF- ». "
            "Seuls les documents PDF sont acceptés."
        )
    tail = data[-_TAIL:]
    if b"%%EOF" not in tail:
        raise _corrupt("marque de fin absente")
    offsets = _STARTXREF_RE.findall(tail)
    if not offsets:
        raise _corrupt("référence « startxref » absente")
    offset = int(offsets[-1])
    if offset >= len(data) or _XREF_AT_RE.match(data, offset) is None:
        raise _corrupt("table des références croisées introuvable")
    if _ENCRYPT_RE.search(data):
        raise PdfError(
            "Ce PDF est chiffré ou protégé par un mot de passe : enregistrez-en une version "
            "sans protection, puis déposez-la."
        )
    pages = _page_count(data)
    return PdfInfo(
        pages=pages,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        version=f"{header.group(1).decode()}.{header.group(2).decode()}",
    )


# --- Objects ---------------------------------------------------------------------------------


class _Objects:
    """Object bodies by number: plain objects from the file, then compressed object streams."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.plain: dict[int, int] = {}
        for match in _OBJ_RE.finditer(data):
            self.plain[int(match.group(1))] = match.end()  # a later revision wins
        self._packed: dict[int, bytes] | None = None

    def body(self, number: int) -> bytes | None:
        start = self.plain.get(number)
        if start is not None:
            end = self.data.find(b"endobj", start)
            stream = self.data.find(b"stream", start)
            if end < 0:
                return None
            if 0 <= stream < end:
                end = stream
            return self.data[start:end]
        return self._unpacked().get(number)

    def _unpacked(self) -> dict[int, bytes]:
        if self._packed is None:
            self._packed = {}
            budget = _INFLATE_BUDGET
            streams = 0
            for number, start in list(self.plain.items()):
                dictionary = self.body(number) or b""
                if not _OBJSTM_RE.search(dictionary):
                    continue
                streams += 1
                if streams > _MAX_OBJECT_STREAMS:
                    raise _corrupt("trop de flux d'objets")
                budget -= self._unpack(start, dictionary, budget)
        return self._packed

    def _unpack(self, start: int, dictionary: bytes, budget: int) -> int:
        """Inflate one object stream into ``_packed``; return the bytes used from the budget."""
        assert self._packed is not None  # noqa: S101 - only called from _unpacked
        if b"/Filter" in dictionary and b"/FlateDecode" not in dictionary:
            return 0  # another filter: objects in it stay unread (the page count may fail)
        found = {key: rx.search(dictionary) for key, rx in _INT_ENTRY.items()}
        stream = _STREAM_RE.search(self.data, start)
        if found[b"N"] is None or found[b"First"] is None or stream is None:
            return 0
        end = self.data.find(b"endstream", stream.end())
        raw = self.data[stream.end() : end if end >= 0 else len(self.data)]
        if b"/FlateDecode" in dictionary:
            inflater = zlib.decompressobj()
            try:
                content = inflater.decompress(raw, budget + 1)
            except zlib.error:
                raise _corrupt("flux compressé illisible") from None
            if len(content) > budget:
                raise _corrupt("flux compressés trop volumineux")
        else:
            content = raw
        count, first = int(found[b"N"].group(1)), int(found[b"First"].group(1))
        numbers = content[:first].split()
        try:
            pairs = [
                (int(numbers[2 * i]), int(numbers[2 * i + 1]))
                for i in range(min(count, len(numbers) // 2))
            ]
        except ValueError:
            raise _corrupt("flux d'objets illisible") from None
        for index, (number, offset) in enumerate(pairs):
            stop = pairs[index + 1][1] if index + 1 < len(pairs) else len(content) - first
            self._packed.setdefault(number, content[first + offset : first + stop])
        return len(content)


def _page_count(data: bytes) -> int:
    objects = _Objects(data)
    roots = _ROOT_RE.findall(data)
    if not roots:
        raise _corrupt("catalogue du document introuvable")
    catalog = objects.body(int(roots[-1]))
    pages_ref = _PAGES_RE.search(catalog or b"")
    if pages_ref is None:
        raise _corrupt("arbre des pages introuvable")
    tree = objects.body(int(pages_ref.group(1)))
    count = _COUNT_RE.search(tree or b"")
    if count is None:
        raise _corrupt("nombre de pages illisible")
    if count.group(2) is not None:  # an indirect count: "/Count 12 0 R"
        target = objects.body(int(count.group(1))) or b""
        number = re.match(rb"\s*([0-9]{1,12})\s", target + b" ")
        if number is None:
            raise _corrupt("nombre de pages illisible")
        pages = int(number.group(1))
    else:
        pages = int(count.group(1))
    if pages < 1:
        raise PdfError("Le PDF ne contient aucune page.")
    if pages > MAX_PAGES:
        raise PdfError(f"Le PDF compte trop de pages ({MAX_PAGES} au maximum).")
    return pages


# --- A tiny writer (demo data and tests) --------------------------------------------------------

_LINES_PER_PAGE = 46
_WRAP = 92


def _pdf_string(text: str) -> bytes:
    encoded = text.encode("cp1252", errors="replace")
    return b"(" + encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def build_text_pdf(title: str, lines: Sequence[str]) -> bytes:
    """A valid, deterministic PDF 1.4 of plain text pages (Helvetica, A4): a title, then lines.

    Long lines are wrapped; about 46 lines per page. Used to seed demo reports and in tests.
    """
    wrapped: list[str] = []
    for line in lines:
        wrapped += textwrap.wrap(line, _WRAP) or [""]
    chunks = [wrapped[i : i + _LINES_PER_PAGE] for i in range(0, len(wrapped), _LINES_PER_PAGE)]
    chunks = chunks or [[]]
    objects: list[bytes] = []  # object n is objects[n - 1]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"")  # the page tree, filled once the kids are known
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    objects.append(b"<< /Title " + _pdf_string(title) + b" /Producer (DMP Portal) >>")
    kids: list[int] = []
    for number, chunk in enumerate(chunks, start=1):
        ops = [
            b"BT",
            b"/F1 15 Tf",
            b"56 790 Td",
            _pdf_string(title) + b" Tj",
            b"/F1 10 Tf",
            b"0 -26 Td",
        ]
        for line in chunk:
            ops += [_pdf_string(line) + b" Tj", b"0 -15 Td"]
        ops += [
            b"ET",
            b"BT /F1 8 Tf 56 30 Td " + _pdf_string(f"Page {number}/{len(chunks)}") + b" Tj ET",
        ]
        content = b"\n".join(ops)
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R"
            b" >> >> /Contents %d 0 R >>" % (len(objects))
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
