"""What a file is, judged by its bytes, not its name: the media types evidence may have.

PDF, PNG and JPEG by their signatures; the Office formats (docx, xlsx, pptx) as ZIP archives with
the parts those formats have; and text that is UTF-8 and is not markup. Anything that looks like
HTML, SVG or XML is refused even when it is text, since a browser or a viewer might run it.
"""

import io
import re
import zipfile

import filetype

OFFICE = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
SIGNED = {"application/pdf", "image/png", "image/jpeg"}
# Every media type evidence is stored and sent back with.
ACCEPTED = (*sorted(SIGNED), "text/plain", "text/csv", *OFFICE.values())
# The start of markup a browser or viewer would interpret, anywhere near the top of a text.
MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|script|svg|\?xml|iframe|object|embed|meta|!\[cdata\[)", re.I)
MARKUP_WINDOW = 4096


class Refused(Exception):
    """Not a media type evidence may have; the message says what it looked like."""


def media_type(content: bytes, declared: str | None) -> str:
    """The file's media type from its content; `declared` only tells text/csv from text/plain."""
    kind = filetype.guess(content)
    if kind is not None and kind.mime in SIGNED:
        return str(kind.mime)
    if content.startswith(b"PK\x03\x04"):
        return _office(content)
    if kind is not None:
        raise Refused(f"it looks like {kind.mime}, which is not accepted")
    return _text(content, declared)


def _office(content: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError) as error:
        raise Refused("it is a damaged ZIP archive") from error
    if "[Content_Types].xml" in names:
        for folder, office_type in OFFICE.items():
            if any(name.startswith(folder) for name in names):
                return office_type
    raise Refused("it is a ZIP archive, but not a Word, Excel or PowerPoint document")


def _text(content: bytes, declared: str | None) -> str:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Refused("it is neither a known document format nor UTF-8 text") from error
    if "\x00" in text:
        raise Refused("it is binary data")
    if MARKUP.search(content[:MARKUP_WINDOW]) or content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise Refused("it looks like HTML, SVG or XML, which is not accepted")
    return "text/csv" if declared is not None and declared.split(";")[0].strip() == "text/csv" else "text/plain"
