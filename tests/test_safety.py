"""What a peer sends cannot act on anyone else's terminal or notebook."""

import pytest

from spreadlab.servers.safety import html_text, printable_line


@pytest.mark.parametrize(
    "raw, shown",
    [
        (b"plain text", b"plain text"),
        ("中文 ok".encode(), "中文 ok".encode()),
        (b"\x1b[31mred\x1b[0m", b"red"),
        (b"\x1b]0;new title\x07after", b"after"),
        (b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", b"link"),
        (b"\x1bPq#0;2;0;0;0\x1b\\sixel", b"sixel"),
        (b"bell\x07 back\x08 nul\x00 del\x7f", b"bell back nul del"),
        (b"keep\ttabs", b"keep\ttabs"),
        ("\u009b2J c1 csi".encode(), b"2J c1 csi"),
        ("abc\u202edcba".encode(), b"abcdcba"),
        (b"bad \xff\xfe utf8", "bad \ufffd\ufffd utf8".encode()),
        (b"\x1b", b""),
    ],
)
def test_printable_line(raw, shown):
    assert printable_line(raw) == shown


def test_html_text_escapes_markup_and_shows_bad_bytes():
    assert html_text(b"<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert html_text("<script>alert('x')</script>") == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert html_text(b"\xff&") == "\\xff&amp;"
