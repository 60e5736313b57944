"""Files of each kind, made in the test: a real PDF of a chosen size, an Office document, and
things that must be refused."""

import io
import os
import zipfile

from fastapi.testclient import TestClient


def pdf(size: int = 20_000, text: str = "Rollback drill report") -> bytes:
    """A well-formed PDF of about `size` bytes: one page with `text`, padded by an unused stream."""
    padding = os.urandom(max(0, size - 900))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        None,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(padding) + padding + b"\nendstream",
    ]
    page = b"BT /F1 18 Tf 72 720 Td (" + text.encode() + b") Tj ET"
    objects[3] = b"<< /Length %d >>\nstream\n" % len(page) + page + b"\nendstream"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + (body or b"") + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", '<?xml version="1.0"?><w:document/>')
    return buffer.getvalue()


HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
XML = b'<?xml version="1.0"?><report/>'
CSV = b"criterion,status\ngo_live.rollback_tested,met\n"


def cited(client: TestClient, project: str, name: str = "drill.pdf") -> list[str]:
    """The `evidence_ids` of a report the caller uploads to the project: what a gate criterion's
    `met` or `partial` attestation cites under the default rubric."""
    uploaded = client.post(f"{project}/evidence", files={"file": (name, pdf(), "application/pdf")})
    assert uploaded.status_code == 201, uploaded.text
    return [uploaded.json()["id"]]
