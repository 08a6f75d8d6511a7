"""The bounded PDF inspector: content decides, never the name or the declared type."""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable
from typing import Any

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pikepdf import Name

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


def _objstm_pdf(
    count: int = 7,
    *,
    encrypt: bool = False,
    padding: int = 0,
    filters: bytes = b"/FlateDecode",
    extra: bytes = b"",
    members: bytes = b"/N 2",
) -> bytes:
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
    out += b"5 0 obj\n<< /Type /ObjStm %s /First %d /Filter %s /Length %d >>\nstream\n" % (
        members,
        len(header),
        filters,
        len(stream),
    )
    out += stream + b"\nendstream\nendobj\n" + extra  # extra: more objects, before the xref
    xref = len(out)
    secret = b" /Encrypt 9 0 R" if encrypt else b""
    out += (
        b"6 0 obj\n<< /Type /XRef /Root 1 0 R /Size 7%s >>\nstream\n\nendstream\nendobj\n" % secret
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


# --- Active content (issue 18, item 11) ----------------------------------------------------------
# Built with a real PDF library (pikepdf, over qpdf) on top of a real text PDF, saved three
# ways: plain objects, compressed object streams, and names written with #xx escapes (which
# every reader decodes: /Java#53cript is /JavaScript). Each built file is checked well formed
# (qpdf opens it without a warning) and to hold the active content as a reader sees it.

Dress = Callable[[pikepdf.Pdf], None]


def _base() -> pikepdf.Pdf:
    return pikepdf.Pdf.open(io.BytesIO(build_text_pdf("CR", [f"ligne {i}" for i in range(60)])))


def _save(pdf: pikepdf.Pdf, *, packed: bool = False, **options: Any) -> bytes:
    out = io.BytesIO()
    mode = pikepdf.ObjectStreamMode.generate if packed else pikepdf.ObjectStreamMode.disable
    pdf.save(out, object_stream_mode=mode, compress_streams=packed, static_id=True, **options)
    return out.getvalue()


def _fix_xref(data: bytes) -> bytes:
    """Rewrite a classic cross-reference table after an edit that moved the objects."""
    body, _, tail = data.rpartition(b"\nxref\n")
    body += b"\n"
    trailer = tail[tail.index(b"trailer") : tail.index(b"startxref")]
    offsets = {int(m.group(1)): m.start() for m in re.finditer(rb"(?m)^(\d+) 0 obj", body)}
    size = max(offsets) + 1
    table = b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        at = offsets.get(number)
        table += b"0000000000 65535 f \n" if at is None else b"%010d 00000 n \n" % at
    trailer = re.sub(rb"/Size [0-9]+", b"/Size %d" % size, trailer)
    return body + table + trailer + b"startxref\n%d\n%%%%EOF\n" % len(body)


_ACTIVE_NAMES = rb"JavaScript|JS|AA|Launch|EmbeddedFiles?|EF|RichMedia|XFA|SubmitForm"


def _escaped(data: bytes) -> bytes:
    """Every active name written with its second character as a #xx escape."""

    def escape(match: re.Match[bytes]) -> bytes:
        name = match.group(1)
        return b"/" + name[:1] + b"#%02X" % name[1] + name[2:]

    pattern = rb"/(" + _ACTIVE_NAMES + rb")(?=[\s/<>\[\]()%])"
    # Outside stream data only (qpdf writes no raw line break inside a string).
    parts = re.split(rb"(stream\n.*?\nendstream)", data, flags=re.DOTALL)
    parts[::2] = [re.sub(pattern, escape, part) for part in parts[::2]]
    return _fix_xref(b"".join(parts))


def _packed_escaped(data: bytes) -> bytes:
    """Compressed object streams whose own /Type and /Filter are escaped (same length, so the
    cross-reference stream stays right): a scanner that matches raw bytes never opens them."""
    edited = data.replace(b"/Type /ObjStm /", b"/Type/Obj#53tm/")
    edited = edited.replace(b"/Filter /FlateDecode /", b"/Filter/Fl#61teDecode/")
    assert len(edited) == len(data) and b"Obj#53tm" in edited
    return edited


def _build(dress: Dress, way: str) -> bytes:
    pdf = _base()
    dress(pdf)
    if way == "plain":
        return _save(pdf)
    if way == "escaped":
        return _escaped(_save(pdf))
    data = _save(pdf, packed=True)
    return _packed_escaped(data) if way == "packed-escaped" else data


def _names_a_reader_sees(data: bytes) -> set[str]:
    """Every name qpdf reads in the file (keys and values), after checking it is well formed."""
    pdf = pikepdf.Pdf.open(io.BytesIO(data))
    assert pdf.get_warnings() == [] and pdf.check_pdf_syntax() == []
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, pikepdf.Name):
            names.add(str(value))
        elif isinstance(value, pikepdf.Dictionary | pikepdf.Stream):
            for key in value.keys():  # noqa: SIM118 - a pikepdf dictionary
                names.add(key)
                child = value.get(key)
                if isinstance(child, pikepdf.Object) and not child.is_indirect:
                    walk(child)
        elif isinstance(value, pikepdf.Array):
            for child in value:
                if isinstance(child, pikepdf.Object) and not child.is_indirect:
                    walk(child)

    for obj in pdf.objects:
        walk(obj)
    return names


def _annotation(pdf: pikepdf.Pdf, **entries: Any) -> None:
    page = pdf.pages[0].obj
    annotation = pikepdf.Dictionary(Type=Name.Annot, Rect=[56, 700, 300, 720], **entries)
    page.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(annotation)]))


def _js(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = pikepdf.Dictionary(S=Name.JavaScript, JS=pikepdf.String("app.alert(1)"))


def _js_indirect_stream(pdf: pikepdf.Pdf) -> None:
    """An OpenAction by reference, its script a (compressed) stream of its own."""
    script = pdf.make_stream(b"app.launchURL('https://attacker.example/', true);")
    action = pikepdf.Dictionary(Type=Name.Action, S=Name.JavaScript, JS=script)
    pdf.Root.OpenAction = pdf.make_indirect(action)


def _js_name_tree(pdf: pikepdf.Pdf) -> None:
    """Document-level JavaScript (run at opening), two indirections away from the catalogue."""
    action = pdf.make_indirect(pikepdf.Dictionary(S=Name.JavaScript, JS=pikepdf.String("1")))
    tree = pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("init"), action]))
    pdf.Root.Names = pikepdf.Dictionary(JavaScript=pdf.make_indirect(tree))


def _page_aa(pdf: pikepdf.Pdf) -> None:
    page = pdf.pages[0].obj
    page.AA = pikepdf.Dictionary(O=pikepdf.Dictionary(S=Name.GoTo, D=[page, Name.Fit]))


def _launch(pdf: pikepdf.Pdf) -> None:
    command = pikepdf.String("C:\\Windows\\System32\\cmd.exe")
    _annotation(pdf, Subtype=Name.Link, A=pikepdf.Dictionary(S=Name.Launch, F=command))


def _embedded_file(pdf: pikepdf.Pdf) -> None:
    pdf.attachments["resultats.csv"] = pikepdf.AttachedFileSpec(
        pdf, b"glycemie;6,1\n", mime_type="text/csv"
    )


def _file_attachment_annotation(pdf: pikepdf.Pdf) -> None:
    spec = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00", filename="facture.exe")
    _annotation(pdf, Subtype=Name.FileAttachment, FS=spec.obj, Contents=pikepdf.String("PJ"))


def _rich_media(pdf: pikepdf.Pdf) -> None:
    content = pikepdf.Dictionary(Assets=pikepdf.Dictionary(), Configurations=pikepdf.Array())
    _annotation(pdf, Subtype=Name.RichMedia, RichMediaContent=content)


def _xfa(pdf: pikepdf.Pdf) -> None:
    xdp = pdf.make_stream(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'></xdp:xdp>")
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=xdp)


def _submit_form(pdf: pikepdf.Pdf) -> None:
    target = pikepdf.Dictionary(FS=Name.URL, F=pikepdf.String("https://collect.example/"))
    _annotation(pdf, Subtype=Name.Link, A=pikepdf.Dictionary(S=Name.SubmitForm, F=target))


ACTIVE: dict[str, tuple[Dress, str, str]] = {
    # case: (how it is built, the name a reader sees, the reason the message gives)
    "open-action-js": (_js, "/JavaScript", "JavaScript"),
    "open-action-js-indirect-stream": (_js_indirect_stream, "/JS", "JavaScript"),
    "document-js-name-tree": (_js_name_tree, "/JavaScript", "JavaScript"),
    "page-additional-actions": (_page_aa, "/AA", "actions automatiques"),
    "launch-link": (_launch, "/Launch", "lancement d'un programme"),
    "embedded-file": (_embedded_file, "/EmbeddedFiles", "fichiers joints"),
    "file-attachment-annotation": (_file_attachment_annotation, "/EF", "fichiers joints"),
    "rich-media": (_rich_media, "/RichMedia", "multimédia"),
    "xfa-form": (_xfa, "/XFA", "formulaire XFA"),
    "submit-form": (_submit_form, "/SubmitForm", "envoi d'un formulaire"),
}
WAYS = ["plain", "packed", "escaped", "packed-escaped"]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", ACTIVE)
def test_active_content_is_refused_naming_the_reason(case: str, way: str) -> None:
    dress, name, reason = ACTIVE[case]
    data = _build(dress, way)
    assert name in _names_a_reader_sees(data)  # a reader would find it here
    with pytest.raises(PdfError, match="contenu actif") as refused:
        inspect_pdf(data)
    assert reason in str(refused.value)


def _goto_open_action(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = pikepdf.Array([pdf.pages[0].obj, Name.Fit])  # "open at page 1"


def _uri_link(pdf: pikepdf.Pdf) -> None:
    link = pikepdf.Dictionary(S=Name.URI, URI=pikepdf.String("https://www.has-sante.fr/"))
    _annotation(pdf, Subtype=Name.Link, A=link)


def _plain_form(pdf: pikepdf.Pdf) -> None:
    field = pdf.make_indirect(
        pikepdf.Dictionary(FT=Name.Tx, T=pikepdf.String("nom"), V=pikepdf.String("Dupont"))
    )
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([field]))


def _words_that_look_active(pdf: pikepdf.Pdf) -> None:
    """The words as text, in strings and in stream data (a page, an image): not names."""
    words = b"/JavaScript /JS /AA /Launch /EmbeddedFile /XFA"
    pdf.docinfo["/Title"] = pikepdf.String(words.decode())
    pdf.docinfo["/Subject"] = pikepdf.String(
        "stream\n/JS (endobj"
    )  # a lexer that ignores strings stops here
    page = pdf.pages[0]
    page.contents_add(pdf.make_stream(b"BT /F1 9 Tf 56 40 Td (" + words + b") Tj ET"))
    image = pdf.make_stream(words + b" " * 18, Type=Name.XObject, Subtype=Name.Image)
    image.Width, image.Height, image.BitsPerComponent = 8, 8, 8
    image.ColorSpace = Name.DeviceGray
    page.obj.Resources.XObject = pikepdf.Dictionary(Im0=image)


BENIGN: dict[str, Dress] = {
    "nothing-added": lambda pdf: None,
    "goto-open-action": _goto_open_action,
    "uri-link": _uri_link,
    "acroform-without-xfa": _plain_form,
    "active-words-as-text": _words_that_look_active,
}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", BENIGN)
def test_passive_pdfs_are_accepted(case: str, way: str) -> None:
    data = _build(BENIGN[case], way)
    _names_a_reader_sees(data)
    assert inspect_pdf(data).pages == 2


def test_a_linearized_pdf_is_accepted() -> None:
    assert inspect_pdf(_save(_base(), packed=True, linearize=True)).pages == 2


def test_stream_and_endobj_inside_a_string_are_text() -> None:
    """A raw line break in a string: "stream" there opens no stream, "endobj" ends nothing."""
    pdf = _base()
    pdf.docinfo["/Subject"] = pikepdf.String("stream\n/JS (endobj")
    data = _save(pdf).replace(b"(stream\\n/JS \\(endobj)", b"(stream\n/JS \\(endobj)")
    data = _fix_xref(data)
    _names_a_reader_sees(data)
    assert inspect_pdf(data).pages == 2


def test_an_object_hidden_inside_the_string_of_another_is_seen() -> None:
    """A scanner that reads the file front to back sees object 90 as the text of object 89;
    a reader follows the cross-reference table straight to object 90."""
    data = _save(_base())
    data = data.replace(b"/Type /Catalog", b"/OpenAction 90 0 R /Type /Catalog", 1)
    hidden = (
        b"89 0 obj\n(\n90 0 obj\n<< /S /JavaScript /JS (app.alert\\(1\\)) >>\nendobj\n)\nendobj\n"
    )
    at = data.rindex(b"\nxref\n") + 1
    data = _fix_xref(data[:at] + hidden + data[at:])
    assert "/JavaScript" in _names_a_reader_sees(data)
    with pytest.raises(PdfError, match="JavaScript"):
        inspect_pdf(data)


def test_an_object_stream_member_hidden_inside_another_is_seen() -> None:
    """Two members of one object stream overlap: the first, read front to back, is a string
    holding the second; a reader reads the second from its own offset."""
    header = b"8 0 9 1 "  # object 8 at offset 0, object 9 at offset 1
    members = zlib.compress(header + b"(<< /S /JavaScript /JS (x) >>)")
    extra = (
        b"7 0 obj\n<< /Type /ObjStm /N 2 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(header), len(members))
        + members
        + b"\nendstream\nendobj\n"
    )
    with pytest.raises(PdfError, match="JavaScript"):
        inspect_pdf(_objstm_pdf(2, extra=extra))


@pytest.mark.parametrize(
    "filters",
    [
        b"/LZWDecode",
        b"[/ASCIIHexDecode /FlateDecode]",
        b"/Crypt",
        b"9 0 R",  # the filter by reference: a reader resolves it, this inspector does not
        b"/FlateDecode /DecodeParms 9 0 R",
        b"/FlateDecode /DecodeParms << /Predictor 12 /Columns 4 >>",
    ],
    ids=str,
)
def test_an_object_stream_it_cannot_read_is_refused(filters: bytes) -> None:
    """Objects it cannot decode could hold anything: refused, not waved through."""
    with pytest.raises(PdfError, match="flux d'objets"):
        inspect_pdf(_objstm_pdf(2, filters=filters))


def test_an_object_stream_whose_layout_is_given_by_reference_is_refused() -> None:
    """/N 9 0 R would be read as "9 members" here while a reader resolves it to more."""
    with pytest.raises(PdfError, match="flux d'objets illisible"):
        inspect_pdf(_objstm_pdf(2, members=b"/N 9 0 R"))


def test_an_escaped_encrypt_key_is_still_encryption() -> None:
    data = _save(_base()).replace(b"/Root 1 0 R", b"/Root 1 0 R /Encr#79pt 9 0 R")
    with pytest.raises(PdfError, match="chiffré"):
        inspect_pdf(data)


_SEEDS = [_build(_js_name_tree, "plain"), _build(_embedded_file, "packed"), _objstm_pdf(3)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(_SEEDS),
    cuts=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 40), st.binary(max_size=12)), max_size=4
    ),
)
def test_damaged_files_are_refused_or_read_never_crash(
    seed: bytes, cuts: list[tuple[float, int, bytes]]
) -> None:
    """Bytes deleted or replaced anywhere: a PdfError (a French message) or a page count,
    never another exception (a 500)."""
    data = bytearray(seed)
    for where, length, replacement in cuts:
        at = int(where * len(data))
        data[at : at + length] = replacement
    try:
        inspect_pdf(bytes(data))
    except PdfError as error:
        assert str(error)
