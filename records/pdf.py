"""A small, bounded PDF inspector (and a tiny PDF writer for demo data and tests).

Framework-free. ``inspect_pdf`` judges an uploaded file by its content only, before anything
is stored: the ``%PDF-`` signature at byte 0, an end-of-file marker and a ``startxref``
offset that lands on a cross-reference section, no encryption (``/Encrypt`` in a trailer or
cross-reference stream dictionary), no active content (JavaScript, automatic or launch
actions, embedded files, rich media, XFA forms, form submission: see ``_ACTIVE``), and a
readable page count (catalogue → page tree → ``/Count``, following objects into compressed
object streams when needed). Failures raise ``PdfError`` with a French message for the user.

Active content is looked for as a reader would find it, not as the bytes spell it: names
are decoded (``/Java#53cript`` is ``/JavaScript``), strings and comments are skipped, every
object is read from its own "obj" keyword and every member of an object stream from its own
offset (so that nothing hides inside what a front-to-back reading takes for a string), object
streams are inflated (an object stream coded any other way is refused: unread objects could
hold anything), and a name counts wherever it stands, reachable or not.

Everything is bounded: the input size, the bytes inflated from object streams, the number of
streams, the lexer's work (``_LEX_BUDGET``: about two seconds at worst) and the page count.
The portal never renders PDFs itself (they are served as sandboxed attachments) and installs
no PDF library at run time; the tests build their hostile PDFs with one (pikepdf).
"""

from __future__ import annotations

import bisect
import hashlib
import re
import textwrap
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from records.reference import translated

__all__ = ["MAX_PAGES", "MAX_PDF_BYTES", "PdfError", "PdfInfo", "build_text_pdf", "inspect_pdf"]

MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_PAGES = 5000
_INFLATE_BUDGET = 64 * 1024 * 1024  # total bytes inflated from object streams, per file
# The lexer's work per file, in units of about a microsecond (measured here): two seconds at
# worst, whatever the file. An object body costs 16 units, a string, comment, hex string or
# "#xx" name 4, a keyword ("obj", "stream"…, wherever it appears, even in stream data) 2, and
# 64 bytes of syntax read 1 (stream data is not read): 70 000 to 125 000 objects at most,
# when a report of a few hundred pages has a few thousand.
_LEX_BUDGET = 2_000_000
_COST_BODY = 16
_COST_STEP = 4
_COST_KEYWORD = 2
_BYTES_PER_UNIT = 64
_MAX_OBJECT_STREAMS = 2000
_TAIL = 2048

_HEADER_RE = re.compile(rb"%PDF-([12])\.([0-9])")
_STARTXREF_RE = re.compile(rb"startxref\s+([0-9]{1,12})\s+%%EOF")
_XREF_AT_RE = re.compile(rb"\s*(?:xref\b|[0-9]{1,10}\s+[0-9]{1,5}\s+obj\b)")
_ENCRYPT_RE = re.compile(rb"/Encrypt\s*(?:[0-9]+\s+[0-9]+\s+R|<<)")
# "n g obj", read backwards from "obj" (comments there would only cost the page count).
_OBJ_NUMBER_REVERSED_RE = re.compile(
    rb"[\x00\t\n\x0c\r ]+[0-9]{1,5}[\x00\t\n\x0c\r ]+([0-9]{1,10})(?![0-9])"
)
_ROOT_RE = re.compile(rb"/Root\s+([0-9]{1,10})\s+[0-9]{1,5}\s+R")
_PAGES_RE = re.compile(rb"/Pages\s+([0-9]{1,10})\s+[0-9]{1,5}\s+R")
_COUNT_RE = re.compile(rb"/Count\s+([0-9]{1,12})(?:\s+([0-9]{1,5})\s+R)?")
_OBJSTM_RE = re.compile(rb"/Type\s*/ObjStm\b")
_INT_ENTRY = {key: re.compile(rb"/" + key + rb"\s+([0-9]{1,10})") for key in (b"N", b"First")}


# Why a file is refused, by code: the facts (``code`` and ``params``) are what is kept (the
# trail's detail, records.facts); the sentence is written in the reader's language when read.
MESSAGES = {
    "empty": "Le fichier est vide.",
    "too_large": "Le fichier dépasse la taille maximale de %(size)d Mo.",
    "not_pdf": (
        "Ce fichier n'est pas un PDF : il ne commence pas par la signature « %PDF- ». "
        "Seuls les documents PDF sont acceptés."
    ),
    "corrupt": (
        "Le PDF est endommagé ou incomplet (%(why)s) : enregistrez-le de nouveau puis réessayez."
    ),
    "encrypted": (
        "Ce PDF est chiffré ou protégé par un mot de passe : enregistrez-en une version "
        "sans protection, puis déposez-la."
    ),
    "too_complex": (
        "Ce PDF est d'une structure trop complexe pour être vérifié : enregistrez-le "
        "de nouveau (par exemple avec « Imprimer » vers PDF), puis déposez-le."
    ),
    "object_stream": (
        "Ce PDF range ses objets dans un flux d'objets codé d'une façon que le "
        "portail ne lit pas (%(coding)s) : son contenu ne peut pas être vérifié. "
        "Enregistrez-le de nouveau (par exemple avec « Imprimer » vers PDF), puis "
        "déposez-le."
    ),
    "active": (
        "Ce PDF contient du contenu actif (%(reasons)s) : il est refusé, rien n'a été "
        "enregistré. Le DMP conserve les documents tels qu'ils sont déposés et n'accepte "
        "ni script, ni action automatique, ni fichier joint. Enregistrez-le en PDF simple "
        "(par exemple avec « Imprimer » vers PDF), puis déposez-le."
    ),
    "no_pages": "Le PDF ne contient aucune page.",
    "too_many_pages": "Le PDF compte trop de pages (%(max)d au maximum).",
}


def message(code: str, params: dict[str, Any]) -> str:
    """The refusal ``code`` with its ``params`` as a sentence in the active language. A text
    parameter is itself a phrase of the catalogue (translated too); a list, several of them."""
    shown: dict[str, object] = {}
    for key, value in params.items():
        if isinstance(value, str):
            shown[key] = translated(value)
        elif isinstance(value, list):
            shown[key] = ", ".join(translated(str(item)) for item in value)
        else:
            shown[key] = value
    template = MESSAGES.get(code)
    return translated(template, **shown) if template else code


class PdfError(ValueError):
    """The file is not an acceptable PDF: ``code`` and ``params`` say why (facts, kept in the
    trail); ``str(error)`` is the sentence in the active language."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(message(code, params))


@dataclass(frozen=True, slots=True)
class PdfInfo:
    pages: int
    sha256: str
    size: int
    version: str


def _corrupt(why: str) -> PdfError:
    return PdfError("corrupt", why=why)


def inspect_pdf(data: bytes, *, max_bytes: int = MAX_PDF_BYTES) -> PdfInfo:
    """Check that ``data`` is a readable, unencrypted PDF; return its page count and digest."""
    if not data:
        raise PdfError("empty")
    if len(data) > max_bytes:
        raise PdfError("too_large", size=max_bytes // (1024 * 1024))
    header = _HEADER_RE.match(data)
    if header is None:
        raise PdfError("not_pdf")
    tail = data[-_TAIL:]
    if b"%%EOF" not in tail:
        raise _corrupt("marque de fin absente")
    offsets = _STARTXREF_RE.findall(tail)
    if not offsets:
        raise _corrupt("référence « startxref » absente")
    offset = int(offsets[-1])
    if offset >= len(data) or _XREF_AT_RE.match(data, offset) is None:
        raise _corrupt("table des références croisées introuvable")
    objects = _Objects(data) if _ENCRYPT_RE.search(data) is None else None
    if objects is None or b"Encrypt" in objects.names:  # also when written /Encr#79pt
        raise PdfError("encrypted")
    _check_active(objects.names)
    pages = _page_count(data, objects)
    return PdfInfo(
        pages=pages,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        version=f"{header.group(1).decode()}.{header.group(2).decode()}",
    )


# --- Lexing ------------------------------------------------------------------------------------
# Enough of the PDF syntax to read names as a reader does: literal strings (nested, escaped),
# hex strings and comments are skipped, "#xx" escapes in names decoded, and a keyword
# ("stream", "endobj"…) ends a body: stream data is never read as syntax (object streams
# excepted, once decoded). The keywords are found once per file by fast literal scans; plain
# syntax is crossed by regular expressions; Python steps only on strings, comments, hex
# strings (and brackets inside object streams). Every step counts against one budget per file
# (_LEX_BUDGET), so that no file, however built, costs more than about two seconds.

_DELIMITER = rb"\x00\t\n\x0c\r ()<>\[\]{}/%"
_REGULAR_OR_SLASH_RE = re.compile(rb"[^\x00\t\n\x0c\r ()<>\[\]{}%]")
_REGULAR_RE = re.compile(rb"[^" + _DELIMITER + rb"]")
_NAME_RE = re.compile(rb"/([^" + _DELIMITER + rb"]*)")
_NAME_ESCAPE_RE = re.compile(rb"#([0-9A-Fa-f]{2})")
_UNSAFE_RE = re.compile(rb"[^!-~]|[" + _DELIMITER + rb"#]")
_KEYWORD_STEMS = {  # the literal searched, and the longer keyword that may end with it
    b"obj": b"endobj",
    b"stream": b"endstream",
    b"xref": b"startxref",
    b"trailer": b"",
}
_STEM_RES = [re.compile(stem) for stem in _KEYWORD_STEMS]
_STEP_RE = re.compile(rb"[(%<]")
_STEP_IN_VALUE_RE = re.compile(rb"[(%<>\[\]]")
_FIRST_TOKEN_RE = re.compile(rb"(?:[\x00\t\n\x0c\r ]+|%[^\r\n]*)*(<<|[\[(])?")
_STRING_STEP_RE = re.compile(rb"(?:[^()\\]++|\\[\s\S])*+(\(+|\)+)")
_SKIP_RE = {b"%": re.compile(rb"[^\r\n]*"), b"<": re.compile(rb"[^<>]*>?")}
_OPENING = {b"<<": 1, b"[": 1, b">>": -1, b"]": -1}


def _decode_name(raw: bytes) -> bytes:
    return _NAME_ESCAPE_RE.sub(lambda m: bytes([int(m.group(1), 16)]), raw) if b"#" in raw else raw


def _normalized(text: bytes) -> bytes:
    """``text`` with its names decoded, each kept one token (for the structure's patterns)."""
    if b"#" not in text:
        return text
    return _NAME_RE.sub(lambda m: b"/" + _UNSAFE_RE.sub(b"_", _decode_name(m.group(1))), text)


class _Lexed(NamedTuple):  # a tuple: made once per object, it must be cheap
    text: bytes  # the body without comments, strings as "()", hex strings "<>" (see _normalized)
    names: frozenset[bytes]  # every name met, decoded
    stop: bytes  # the keyword that ended the body ("stream", "endobj"…), or b""
    end: int  # the position after it


class _Lexer:
    """Bodies of objects in one file, within one budget of work (in units of about a
    microsecond: see the _COST_* constants)."""

    def __init__(self, data: bytes, budget: int) -> None:
        self.data = data
        self.budget = budget
        self.spent = 0
        # Every keyword, as (start, end, keyword), in the order of the file.
        self.keywords: list[tuple[int, int, bytes]] = []
        self._spend(sum(data.count(stem) for stem in _KEYWORD_STEMS) * _COST_KEYWORD)
        for stem_re in _STEM_RES:
            for match in stem_re.finditer(data):
                self._keyword(match.start(), match.end(), match.group())
        self.keywords.sort()
        self._starts = [start for start, _end, _word in self.keywords]

    def _keyword(self, start: int, end: int, stem: bytes) -> None:
        longer = _KEYWORD_STEMS[stem]
        if longer and self.data.startswith(longer, end - len(longer)):
            start = end - len(longer)
        if start and _REGULAR_OR_SLASH_RE.match(self.data, start - 1):
            return  # inside a longer word, or a name ("/stream")
        if _REGULAR_RE.match(self.data, end):
            return
        self.keywords.append((start, end, self.data[start:end]))

    def lex(self, pos: int) -> _Lexed:
        """A body of the file, from ``pos`` to the next keyword outside strings."""
        start, data, pieces = pos, self.data, []
        index = bisect.bisect_left(self._starts, pos)
        while True:
            index = bisect.bisect_left(self._starts, pos, index)
            keyword = self.keywords[index] if index < len(self.keywords) else None
            limit = keyword[0] if keyword else len(data)
            step = _STEP_RE.search(data, pos, limit)
            pieces.append(data[pos : step.start() if step else limit])
            if step is None:
                end, stop = (keyword[1], keyword[2]) if keyword else (len(data), b"")
                return self._lexed(pieces, stop, start, end)
            pos, piece = self._skip(data, step.group(), step.end())
            pieces.append(piece)

    def lex_value(self, content: bytes, pos: int) -> _Lexed:
        """One value of an object stream's ``content``, from ``pos`` (a member)."""
        first = _FIRST_TOKEN_RE.match(content, pos)
        if first is None or first.group(1) is None:  # a name, a number, a hex string…
            after = _STEP_IN_VALUE_RE.search(content, first.end() + 1 if first else pos)
            end = after.start() if after else len(content)
            return self._lexed([content[pos:end]], b"", pos, end)
        start, depth, pieces = pos, 0, []
        while True:
            step = _STEP_IN_VALUE_RE.search(content, pos)
            pieces.append(content[pos : step.start() if step else len(content)])
            if step is None:
                return self._lexed(pieces, b"", start, len(content))
            pos, piece = self._skip(content, step.group(), step.end())
            pieces.append(piece)
            depth += _OPENING.get(piece, 0)
            if depth <= 0:
                return self._lexed(pieces, b"", start, pos)

    def _skip(self, data: bytes, mark: bytes, pos: int) -> tuple[int, bytes]:
        """Past the string, comment or bracket that ``mark`` opens; and what stands for it."""
        self._spend(_COST_STEP)
        if mark == b"(":
            return self._string_end(data, pos), b"()"
        if mark == b"<" and data.startswith(b"<", pos):
            return pos + 1, b"<<"
        if mark == b">" and data.startswith(b">", pos):
            return pos + 1, b">>"
        if mark in _SKIP_RE:
            end = _SKIP_RE[mark].match(data, pos)
            return (end.end() if end else pos), (b" " if mark == b"%" else b"<>")
        return pos, mark  # a bracket, or a stray ">"

    def _string_end(self, data: bytes, pos: int) -> int:
        """Past the literal string opened before ``pos`` (one step per run of parentheses)."""
        depth = 1
        while True:
            run = _STRING_STEP_RE.match(data, pos)
            if run is None:
                return len(data)
            self._spend(_COST_STEP)
            parens = run.group(1)
            if parens[:1] == b"(":
                depth += len(parens)
            elif len(parens) >= depth:
                return run.start(1) + depth
            else:
                depth -= len(parens)
            pos = run.end()

    def _lexed(self, pieces: list[bytes], stop: bytes, start: int, end: int) -> _Lexed:
        text = b"".join(pieces)
        raw_names = set(_NAME_RE.findall(text))
        # Decoding a name is the dearest step; reading bytes, the cheapest.
        self._spend(_COST_BODY + text.count(b"#") * _COST_STEP + (end - start) // _BYTES_PER_UNIT)
        return _Lexed(text, frozenset(_decode_name(n) for n in raw_names), stop, end)

    def _spend(self, units: int) -> None:
        self.spent += units
        if self.spent > self.budget:
            raise PdfError("too_complex")


# --- Objects ---------------------------------------------------------------------------------

_FILTERS_RE = re.compile(rb"/Filter\s*(?:(/[^\s/\[\]<>()]+)|\[((?:\s*/[^\s/\[\]<>()]+)*)\s*\])")
_LENGTH_RE = re.compile(rb"/Length\s+([0-9]{1,10})(?!\s+[0-9]+\s+R)")
_PREDICTOR_RE = re.compile(rb"/Predictor\s+([0-9]{1,5})")
_PARMS_RE = re.compile(rb"/DecodeParms\s*(<<|\[|null)?")
_INDIRECT_LAYOUT_RE = re.compile(rb"/(?:N|First)\s+[0-9]+\s+[0-9]+\s+R")
_ENDSTREAM_RE = re.compile(rb"\s*endstream")


def _is_object_stream(text: bytes) -> bool:
    # /First alone is enough: a reader finds object streams through the cross-reference
    # stream, whatever their /Type says.
    return _OBJSTM_RE.search(text) is not None or _INT_ENTRY[b"First"].search(text) is not None


class _Objects:
    """Every object of the file, read once: from *every* "obj" keyword (a reader goes straight
    to an object through the cross-reference table, even one that a front-to-back reading
    would take for the inside of a string), the members of object streams (each from its own
    offset, for the same reason), and the trailers. Keeps each body by number (a later
    revision wins; a plain object over a packed one) and every name met."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.names: set[bytes] = set()
        self._bodies: dict[int, bytes] = {}
        self._packed: dict[int, bytes] = {}
        self._lexer = _Lexer(data, _LEX_BUDGET)
        self._inflate_budget = _INFLATE_BUDGET
        self._streams = 0
        for start, end, keyword in self._lexer.keywords:
            if keyword in (b"obj", b"trailer"):
                lexed = self._lexer.lex(end)
                self.names |= lexed.names
                if keyword == b"obj":
                    self._object(start, lexed)

    def _object(self, start: int, lexed: _Lexed) -> None:
        text = _normalized(lexed.text)
        number = _OBJ_NUMBER_REVERSED_RE.match(self.data[max(0, start - 24) : start][::-1])
        if number is not None:  # a later revision wins
            self._bodies[int(number.group(1)[::-1])] = text
        if lexed.stop == b"stream" and _is_object_stream(text):
            self._unpack(text, lexed.end)

    def body(self, number: int) -> bytes | None:
        body = self._bodies.get(number)
        return body if body is not None else self._packed.get(number)

    def _stream_data(self, text: bytes, start: int) -> bytes:
        """The raw data of the stream whose dictionary is ``text``, its keyword ending at
        ``start``: ``/Length`` bytes when "endstream" follows them (as a reader does), else up
        to the first "endstream"."""
        if self.data.startswith(b"\r\n", start):
            start += 2
        elif self.data[start : start + 1] in (b"\n", b"\r"):
            start += 1
        length = _LENGTH_RE.search(text)
        if length is not None:
            end = start + int(length.group(1))
            if _ENDSTREAM_RE.match(self.data, end):
                return self.data[start:end]
        end = self.data.find(b"endstream", start)
        return self.data[start : end if end >= 0 else len(self.data)]

    def _unpack(self, text: bytes, start: int) -> None:
        """Read one object stream: its members' names and bodies."""
        self._streams += 1
        if self._streams > _MAX_OBJECT_STREAMS:
            raise _corrupt("trop de flux d'objets")
        content = self._decoded(text, self._stream_data(text, start))
        found = {key: rx.search(text) for key, rx in _INT_ENTRY.items()}
        if found[b"N"] is None or found[b"First"] is None or _INDIRECT_LAYOUT_RE.search(text):
            raise _corrupt("flux d'objets illisible")  # an indirect /N or /First included
        count, first = int(found[b"N"].group(1)), int(found[b"First"].group(1))
        numbers = content[:first].split()
        try:
            pairs = [
                (int(numbers[2 * i]), int(numbers[2 * i + 1]))
                for i in range(min(count, len(numbers) // 2))
            ]
        except ValueError:
            raise _corrupt("flux d'objets illisible") from None
        for number, offset in pairs:
            member = self._lexer.lex_value(content, first + offset)
            self.names |= member.names
            self._packed.setdefault(number, _normalized(member.text))

    def _decoded(self, text: bytes, raw: bytes) -> bytes:
        """An object stream's content: as is, or inflated within the budget. Any other coding
        is refused: objects that cannot be read could hold anything."""
        filters = _FILTERS_RE.search(text)
        listed = b"" if filters is None else (filters.group(1) or filters.group(2))
        names = [name.lstrip(b"/") for name in listed.replace(b"/", b" /").split()]
        if filters is None and b"/Filter" in text:  # given by reference: unknown here
            names = [b"?"]
        predictor = _PREDICTOR_RE.search(text)
        parameters = _PARMS_RE.search(text)
        if (
            names not in ([], [b"FlateDecode"])
            or (predictor and int(predictor.group(1)) > 1)
            or (parameters and parameters.group(1) is None)  # by reference: unknown here
        ):
            raise PdfError(
                "object_stream",
                coding=" ".join(n.decode("latin-1") for n in names) or "prédicteur",
            )
        if not names:
            return raw
        try:
            content = zlib.decompressobj().decompress(raw, self._inflate_budget + 1)
        except zlib.error:
            raise _corrupt("flux compressé illisible") from None
        self._inflate_budget -= len(content)
        if self._inflate_budget < 0:
            raise _corrupt("flux compressés trop volumineux")
        return content


# --- Active content ---------------------------------------------------------------------------
# The DMP keeps documents as they were deposited, so a PDF that can act when it is opened is
# refused (not stripped). A name is enough wherever it stands (key or value, in any object,
# reachable or not): a reader may reach objects that a partial parse does not.

_ACTIVE = {
    b"JavaScript": "JavaScript",
    b"JS": "JavaScript",
    b"AA": "actions automatiques à l'ouverture ou à la lecture",
    b"Launch": "lancement d'un programme",
    b"EmbeddedFiles": "fichiers joints",
    b"EmbeddedFile": "fichiers joints",
    b"EF": "fichiers joints",
    b"RichMedia": "contenu multimédia interactif",
    b"XFA": "formulaire XFA",
    b"SubmitForm": "envoi d'un formulaire vers un serveur",
    b"ImportData": "import de données",
    b"GoToE": "ouverture d'un document joint",
}


def _check_active(names: set[bytes]) -> None:
    found = {name.split(b"\x00", 1)[0] for name in names} & _ACTIVE.keys()
    if found:
        reasons = list(dict.fromkeys(_ACTIVE[name] for name in _ACTIVE if name in found))
        raise PdfError("active", reasons=reasons)


def _page_count(data: bytes, objects: _Objects) -> int:
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
        raise PdfError("no_pages")
    if pages > MAX_PAGES:
        raise PdfError("too_many_pages", max=MAX_PAGES)
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
