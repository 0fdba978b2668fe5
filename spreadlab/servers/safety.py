"""Make what a network peer sent safe to show to someone else.

A peer may send anything: invalid UTF-8, terminal escape sequences that
repaint or retitle another user's terminal, bidirectional-override
characters that make text read backwards, or HTML.  Two functions keep those
bytes from acting on anyone's screen:

- `printable_line` for text relayed to other clients' terminals;
- `html_text` for anything that reaches a notebook's HTML.

Pure functions, callable from any thread.
"""

from __future__ import annotations

import html
import re

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST),
# DCS/SOS/PM/APC strings (ESC P/X/^/_ ... ST) and the two-character escapes.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -/]*[0-~]?"
)
# Unicode characters that reorder how surrounding text is displayed.
_BIDI_CONTROLS = dict.fromkeys(
    [0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069]
)


# The control characters (Unicode category Cc: U+0000-U+001F and
# U+007F-U+009F), except tab.  One regular expression instead of a test per
# character: the Spread server runs this on every line it relays.
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# The common case, plain printable ASCII, is already safe as it is.
_UNSAFE_ASCII = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")


def printable_text(text: str) -> str:
    """Drop escape sequences, control characters (all but tab) and
    bidirectional overrides from *text*; keep everything else."""
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = text.translate(_BIDI_CONTROLS)
    return _CONTROLS.sub("", text)


def printable_line(line: bytes) -> bytes:
    """Turn one received line into UTF-8 bytes that are safe to relay to a
    terminal: invalid UTF-8 becomes U+FFFD (the replacement character),
    escape sequences and control characters are removed."""
    if line.isascii() and _UNSAFE_ASCII.search(line) is None:
        return bytes(line)  # printable ASCII: nothing to replace or remove
    return printable_text(line.decode("utf-8", errors="replace")).encode("utf-8")


def html_text(data: bytes | str) -> str:
    """Text for HTML: bytes are decoded (undecodable bytes shown as ``\\xff``,
    never dropped) and ``<``, ``>``, ``&`` and quotes are escaped, so nothing
    a peer sent can become markup or script."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="backslashreplace")
    return html.escape(data, quote=True)
