"""Make what a network peer sent safe to show to someone else.

A peer may send anything: invalid UTF-8, terminal escape sequences that
repaint or retitle another user's terminal, bidirectional-override
characters that make text read backwards, zero-width characters that hide
inside words, line separators that fake a new message, or HTML.  These
functions keep those bytes from acting on anyone's screen:

- `printable_line` for text relayed to other clients' terminals (what could
  act is removed);
- `html_text` for anything that reaches a notebook's HTML (escaped, and the
  invisible characters shown as escapes, `visible_text`).

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
# Characters that change how text around them reads without showing
# themselves: the bidirectional controls (Unicode's Bidi_Control property:
# embeddings, overrides, isolates and marks), which can make a line read
# backwards or put one user's words inside another's; zero-width characters
# (spaces, joiners, the word joiner, the byte order mark), which hide inside
# names and words; and the line and paragraph separators, which start a new
# line that looks like another message.
INVISIBLE = (
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional controls
    "\u200b-\u200d\u2060\ufeff"  # zero-width characters
    "\u2028\u2029"  # line and paragraph separators
)
_INVISIBLE = re.compile(f"[{INVISIBLE}]")

# The control characters (Unicode category Cc: U+0000-U+001F and
# U+007F-U+009F), except tab, and the invisible characters above.  One
# regular expression instead of a test per character: the Spread server
# runs this on every line it relays.
_UNPRINTABLE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{INVISIBLE}]")
# The common case, plain printable ASCII, is already safe as it is.
_UNSAFE_ASCII = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")


def printable_text(text: str) -> str:
    """Drop escape sequences, control characters (all but tab) and the
    invisible characters that reorder or hide text from *text*; keep
    everything else."""
    return _UNPRINTABLE.sub("", _ESCAPE_SEQUENCE.sub("", text))


def is_invisible(character: str) -> bool:
    """Is *character* one of the invisible characters (a bidirectional
    control, a zero-width character, a line or paragraph separator)?"""
    return _INVISIBLE.fullmatch(character) is not None


def visible_text(text: str) -> str:
    """Show each invisible character of *text* (a bidirectional control, a
    zero-width character, a line or paragraph separator) as its escape,
    ``\\u202e``, so that a reader sees it is there and it acts on nothing."""
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def printable_line(line: bytes) -> bytes:
    """Turn one received line into UTF-8 bytes that are safe to relay to a
    terminal: invalid UTF-8 becomes U+FFFD (the replacement character),
    escape sequences, control characters and invisible characters
    (bidirectional controls, zero-width characters, line and paragraph
    separators) are removed."""
    if line.isascii() and _UNSAFE_ASCII.search(line) is None:
        return bytes(line)  # printable ASCII: nothing to replace or remove
    return printable_text(line.decode("utf-8", errors="replace")).encode("utf-8")


def html_text(data: bytes | str) -> str:
    """Text for HTML: bytes are decoded (undecodable bytes shown as ``\\xff``,
    never dropped), ``<``, ``>``, ``&`` and quotes are escaped, so nothing
    a peer sent can become markup or script, and invisible characters are
    shown as escapes (`visible_text`), so none can reorder or hide what is
    around it."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="backslashreplace")
    return html.escape(visible_text(data), quote=True)
