"""What a room looks like at one moment, and that picture drawn as HTML.

A `Scene` is folded from a trace's events, one at a time: one `Card` per
client (its state and the last lines it received) and the message spread
last (from its sender, through the server, to each receiver).  The live
board folds events as they arrive; the timeline folds them up to the
position being looked at.  Everything is bounded: a card keeps its last
*keep* lines and counts the ones it let go, so a burst of thousands of
messages costs the picture nothing; the trace keeps them all.

`scene_html` draws a scene: the server in the middle, the clients as cards
around it, the last spread as arrows.  Every byte that came from a client is
escaped here (`spreadlab.servers.safety.html_text`), because ``ipywidgets.HTML``
does not sanitise.  Words are in the learner's language (`spreadlab.i18n`),
looked up when drawn; a card's state is kept in English and translated where
it is shown.  Pure data and functions: any thread, no widgets.
"""

from __future__ import annotations

import collections
import math
import re
from dataclasses import dataclass, field

from ..i18n import N_, _, ngettext
from ..rooms import trace as T
from ..servers.safety import html_text

#: A partial line longer than this is shown as a line of its own (cut).
MAX_PARTIAL = 4096
#: Bytes of one line kept for display (the trace keeps all of them).
MAX_LINE = 400


class Card:
    """One client as the board shows it: its state and its last lines.

    ``lines`` holds the last *keep* complete lines it received (bytes,
    without the line end); ``hidden`` counts the earlier ones let go;
    ``partial`` is what came after the last line end.
    """

    def __init__(self, name: str, keep: int) -> None:
        self.name = name
        self.state = "connecting"
        self.detail = ""
        self.lines: collections.deque[bytes] = collections.deque(maxlen=keep)
        self.hidden = 0
        self.partial = b""
        self.received = 0  # bytes the server wrote to it
        self.sent = 0  # bytes the server received from it

    @property
    def active(self) -> bool:
        return self.state in ("connecting", "connected", "closing")

    def take(self, data: bytes) -> None:
        """Add bytes the server wrote to this client."""
        self.received += len(data)
        pieces = (self.partial + data).split(b"\n")
        self.partial = pieces.pop()
        for piece in pieces:
            self._line(piece[:-1] if piece.endswith(b"\r") else piece)
        if len(self.partial) > MAX_PARTIAL:
            self._line(self.partial)
            self.partial = b""

    def _line(self, line: bytes) -> None:
        if len(self.lines) == self.lines.maxlen:
            self.hidden += 1
        self.lines.append(line[:MAX_LINE])


@dataclass
class Spread:
    """The last message through the server: *sender* (``None`` when the
    server spoke on its own, as for a welcome) sent *chunk*; the server
    then wrote ``data`` to each of *receivers*."""

    time: int
    sender: str | None
    chunk: bytes = b""
    receivers: list[str] = field(default_factory=list)
    data: bytes = b""


class Scene:
    """A room folded from trace events with `apply`; read its ``cards``
    (by client name, in the order they connected), ``last`` (the last
    `Spread`), ``connected`` (how many connections are made and not yet
    lost), ``applied`` (events folded) and ``current`` (the last event)."""

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self.cards: dict[str, Card] = {}
        self.last: Spread | None = None
        self.connected = 0
        self.applied = 0
        self.current: T.Event | None = None
        self._open = False  # writes still belong to self.last

    def card(self, name: str) -> Card:
        card = self.cards.get(name)
        if card is None:
            card = self.cards[name] = Card(name, self.keep)
        return card

    def apply(self, event: T.Event) -> None:
        """Fold one event into the picture."""
        kind, card = event.kind, self.card(event.client)
        if kind == T.RECEIVED:
            card.sent += len(event.data)
            self.last = Spread(event.time, event.client, event.data)
            self._open = True
        elif kind == T.WRITE:
            card.take(event.data)
            if not self._open:
                self.last = Spread(event.time, None)
                self._open = True
            self.last.receivers.append(event.client)
            self.last.data = event.data
        else:
            self._open = False
            if kind == T.MADE:
                card.state = "connected"
                self.connected += 1
            elif kind == T.NO_PROTOCOL:
                card.state, card.detail = "no protocol", event.detail
            elif kind in (T.LOSE, T.ABORT, T.EOF, T.RESET):
                if card.state != "closed":
                    card.state, card.detail = "closing", f"{kind_label(kind)} {event.detail}".strip()
            elif kind == T.ERROR:
                card.detail = f"{kind_label(kind)} {event.detail}"
            elif kind == T.LOST:
                if card.state in ("connected", "closing"):
                    self.connected -= 1
                card.state, card.detail = "closed", event.detail
        self.applied += 1
        self.current = event

    def extend(self, events) -> None:
        for event in events:
            self.apply(event)


# --- drawing -----------------------------------------------------------------

_MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"
_STATE_COLOURS = {  # a card's state (shown translated) and its colour
    N_("connecting"): "#868e96",
    N_("connected"): "#2b8a3e",
    N_("closing"): "#e67700",
    N_("closed"): "#868e96",
    N_("no protocol"): "#c92a2a",
}
#: How the views name the kinds of event that are not Twisted's own names
#: (``connectionMade``, ``dataReceived``, ``write``... stay as Twisted spells them).
_KIND_LABELS = {
    # Translators: a client's TCP connection arrived at the server.
    T.CONNECT: N_("connect"),
    T.NO_PROTOCOL: N_("no protocol"),
    T.EOF: N_("end-of-file"),
    # Translators: the peer reset the TCP connection (RST).
    T.RESET: N_("reset"),
    T.ERROR: N_("error"),
}


def kind_label(kind: str) -> str:
    """A trace event's kind as a view shows it, in the learner's language."""
    label = _KIND_LABELS.get(kind)
    return _(label) if label else kind

SENT_COLOUR = "#d9480f"  # sender -> server
WRITE_COLOUR = "#1c7ed6"  # server -> receivers


def bytes_html(data: bytes, limit: int | None = 120) -> str:
    """Bytes as escaped HTML text: UTF-8 where it decodes; undecodable bytes
    and control characters shown as ``\\xff`` in a marked span, never
    dropped; cut at *limit* characters with an ellipsis."""
    out: list[str] = []
    count = 0
    # No character takes more than 4 bytes: a longer input is cut first, so a
    # big chunk costs no more than a short one.
    cut = limit is not None and len(data) > 4 * limit
    rest = data[: 4 * limit] if cut else data
    while rest and (limit is None or count < limit):
        try:
            text, bad, rest = rest.decode("utf-8"), b"", b""
        except UnicodeDecodeError as error:
            text = rest[: error.start].decode("utf-8")
            bad, rest = rest[error.start : error.end], rest[error.end :]
        plain: list[str] = []
        for ch in text:
            if limit is not None and count >= limit:
                break
            if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
                out.append(html_text("".join(plain)))
                plain = []
                out.append(_marked(_CONTROL_NAMES.get(ch, f"\\x{ord(ch):02x}"), N_("a control character")))
            else:
                plain.append(ch)
            count += 1
        out.append(html_text("".join(plain)))
        for byte in bad:
            if limit is not None and count >= limit:
                break
            out.append(_marked(f"\\x{byte:02x}", N_("a byte that is not valid UTF-8")))
            count += 1
    if rest or cut or (limit is not None and count >= limit and _longer(data, limit)):
        out.append("…")
    return "".join(out)


def _longer(data: bytes, limit: int) -> bool:
    return len(data.decode("utf-8", errors="backslashreplace")) > limit


_CONTROL_NAMES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _marked(text: str, why: str) -> str:
    """*text* (an escape) in a red span whose tooltip says *why* (translated here)."""
    return f'<span style="color:#c92a2a;background:#fff0f0;border-radius:2px" title="{html_text(_(why))}">{text}</span>'


# The stage: a fixed-size box, the server in the middle, the cards on an ellipse.
STAGE_W, STAGE_H = 860, 700
CARD_W, CARD_H = 190, 180
SERVER_W, SERVER_H = 250, 140


def _positions(n: int) -> list[tuple[float, float]]:
    """Centres of *n* cards around the server, from the top, clockwise:
    evenly spaced angles, pushed out to the edges of the stage (further from
    the server, and so with longer arrows, than on an ellipse)."""
    cx, cy, rx, ry = STAGE_W / 2, STAGE_H / 2, (STAGE_W - CARD_W) / 2, (STAGE_H - CARD_H) / 2
    out = []
    for i in range(n):
        angle = -math.pi / 2 + 2 * math.pi * i / max(n, 1)
        dx, dy = math.cos(angle), math.sin(angle)
        reach = min(rx / abs(dx) if abs(dx) > 1e-9 else math.inf, ry / abs(dy) if abs(dy) > 1e-9 else math.inf)
        out.append((cx + dx * reach, cy + dy * reach))
    return out


def _chosen(scene: Scene, max_cards: int) -> list[Card]:
    """The cards to draw: connected ones first, then the latest closed ones,
    kept in the order the clients connected."""
    cards = list(scene.cards.values())
    if len(cards) <= max_cards:
        return cards
    active = [c for c in cards if c.active]
    if len(active) >= max_cards:
        keep = set(map(id, active[:max_cards]))
    else:
        others = [c for c in cards if not c.active][-(max_cards - len(active)) :]
        keep = set(map(id, active + others))
    return [c for c in cards if id(c) in keep]


def _edge(x0: float, y0: float, x1: float, y1: float, w: float, h: float) -> tuple[float, float]:
    """Where the segment from (x0, y0), the centre of a w by h box, to
    (x1, y1) leaves that box."""
    dx, dy = x1 - x0, y1 - y0
    if dx == 0 and dy == 0:
        return x0, y0
    scale = min((w / 2) / abs(dx) if dx else math.inf, (h / 2) / abs(dy) if dy else math.inf)
    return x0 + dx * scale, y0 + dy * scale


def _svg_label(data: bytes, length: float) -> str:
    """Bytes as the label of an arrow *length* pixels long: plain escaped
    text (SVG text cannot hold the spans `bytes_html` marks bytes with), as
    many characters as fit along the arrow."""
    fits = max(4, min(24, int(length / 7.3) - 2))
    return f"“{html_text(T.show_bytes(data, fits))}”"


def _arrow(x0, y0, x1, y1, colour: str, label: str, label_at: float = 0.5) -> str:
    angle = math.atan2(y1 - y0, x1 - x0)
    head = [
        (x1, y1),
        (x1 - 11 * math.cos(angle - 0.4), y1 - 11 * math.sin(angle - 0.4)),
        (x1 - 11 * math.cos(angle + 0.4), y1 - 11 * math.sin(angle + 0.4)),
    ]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in head)
    lx, ly = x0 + (x1 - x0) * label_at, y0 + (y1 - y0) * label_at
    text = ""
    if label:
        text = (
            f'<text x="{lx:.1f}" y="{ly - 6:.1f}" text-anchor="middle" font-size="12" '
            f'font-family="{_MONO}" fill="{colour}" stroke="#ffffff" stroke-width="3" '
            f'paint-order="stroke">{label}</text>'
        )
    return (
        f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{colour}" '
        f'stroke-width="2.5"/><polygon points="{points}" fill="{colour}"/>{text}'
    )


def _card_html(card: Card, x: float, y: float, focus: bool, role: str, tag: str) -> str:
    colour = _STATE_COLOURS.get(card.state, "#868e96")
    border = "3px solid #f08c00" if focus else f"2px solid {colour}"
    badge = {"sender": N_("↑sent"), "receiver": N_("↓got it")}.get(role, "")
    badge = " " + _(badge) if badge else ""
    # Long lines wrap (the welcome's client number is at its end); the
    # transcript is anchored at the bottom, so when lines do not all fit it
    # is the oldest that go out of sight, never the newest.
    one_line = "white-space:pre-wrap;overflow-wrap:anywhere"
    lines = [f'<div style="{one_line}">{bytes_html(line)}</div>' for line in card.lines]
    if card.partial:
        no_end = html_text(_("no line end yet"))
        lines.append(f'<div style="{one_line};opacity:.6" title="{no_end}">{bytes_html(card.partial)}▌</div>')
    hidden = ""
    if card.hidden:
        words = ngettext("{count} earlier line hidden", "{count} earlier lines hidden", card.hidden)
        hidden = f'<div style="color:#868e96;font-style:italic">{html_text(words.format(count=f"{card.hidden:,}"))}</div>'
    detail = (
        f'<div style="color:#868e96;font-size:11px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis" '
        f'title="{html_text(card.detail)}">{html_text(re.split("[:：]", card.detail)[0])}</div>'
        if card.detail
        else ""
    )
    return (
        f'<div data-client="{html_text(card.name)}" style="position:absolute;box-sizing:border-box;'
        f"left:{x - CARD_W / 2:.0f}px;top:{y - CARD_H / 2:.0f}px;width:{CARD_W}px;height:{CARD_H}px;"
        f"border:{border};border-radius:8px;background:#ffffff;padding:4px 6px;overflow:hidden;"
        f'display:flex;flex-direction:column;opacity:{1 if card.active else 0.6}">'
        f'<div style="font-weight:bold;color:#212529;flex:none">{html_text(card.name)}'
        f'<span style="font-weight:normal;color:#495057">{html_text(tag)}</span>'
        f'<span style="font-weight:normal;color:{colour}"> {html_text(_(card.state))}{html_text(badge)}</span></div>'
        f"{detail}{hidden}"
        f'<div style="flex:1;min-height:0;overflow:hidden;display:flex;flex-direction:column;justify-content:flex-end;'
        f'font-family:{_MONO};font-size:11px;line-height:14px;color:#212529">'
        f'{"".join(lines)}</div></div>'
    )


def scene_html(
    scene: Scene,
    *,
    server: str = "server",
    num_protocols: int | None = None,
    focus: str | None = None,
    caption: str = "",
    max_cards: int = 8,
    tags: dict[str, str] | None = None,
) -> str:
    """Draw *scene* as one block of HTML (inline SVG and styled divs, no
    script).  *server* names the server box (the factory's class);
    *num_protocols* is shown when known (the factory's own count, live);
    *focus* outlines one client's card; *caption* (already HTML) goes under
    the picture; *tags* adds a word after some clients' names (" (terminal)")."""
    cards = _chosen(scene, max_cards)
    spots = dict(zip((c.name for c in cards), _positions(len(cards))))
    cx, cy = STAGE_W / 2, STAGE_H / 2
    last = scene.last
    arrows = []
    roles: dict[str, str] = {}
    if last is not None:
        if last.sender is not None and last.sender in spots:
            x, y = spots[last.sender]
            x0, y0 = _edge(x, y, cx, cy, CARD_W, CARD_H)
            x1, y1 = _edge(cx, cy, x, y, SERVER_W, SERVER_H)
            arrows.append(_arrow(x0, y0, x1, y1, SENT_COLOUR, _svg_label(last.chunk, math.hypot(x1 - x0, y1 - y0))))
            roles[last.sender] = "sender"
        for i, name in enumerate(dict.fromkeys(last.receivers)):
            if name not in spots:
                continue
            x, y = spots[name]
            x0, y0 = _edge(cx, cy, x, y, SERVER_W, SERVER_H)
            x1, y1 = _edge(x, y, cx, cy, CARD_W, CARD_H)
            arrows.append(_arrow(x0, y0, x1, y1, WRITE_COLOUR, ""))
            roles.setdefault(name, "receiver")
    active = [c.name for c in scene.cards.values() if c.state in ("connected", "closing")]
    listed = ", ".join(html_text(name) for name in active[:6])
    if len(active) > 6:
        listed = _("{names} and {count} more").format(names=listed, count=len(active) - 6)
    count = "" if num_protocols is None else f"<div>numProtocols = <b>{num_protocols}</b></div>"
    not_drawn = len(scene.cards) - len(cards)
    more = ""
    if not_drawn > 0:
        words = ngettext("{count} more client not drawn", "{count} more clients not drawn", not_drawn)
        more = (f'<div style="position:absolute;right:6px;bottom:4px;color:#868e96;font-size:12px">'
                f"{html_text(words.format(count=not_drawn))}</div>")
    line = f"font-family:{_MONO};font-size:11px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis"
    if last is None:
        nothing = html_text(_("nothing spread yet"))
        message = f'<div style="color:#495057">{nothing}</div>'
    else:
        message = ""
        if last.sender is not None:
            title = html_text(_("the last chunk dataReceived got"))
            # Translators: {data} is the bytes the server received, {sender} a client's name.
            got = _("got “{data}” from {sender}").format(data=bytes_html(last.chunk, 40),
                                                         sender=html_text(last.sender))
            message += f'<div style="{line};color:{SENT_COLOUR}" title="{title}">{got}</div>'
        if last.receivers:
            title = html_text(_("what the server wrote in answer"))
            # Translators: {data} is the bytes the server wrote; {count} how many clients it wrote them to.
            wrote = _("wrote “{data}” to {count}").format(data=bytes_html(last.data, 40), count=len(last.receivers))
            message += f'<div style="{line};color:{WRITE_COLOUR}" title="{title}">{wrote}</div>'
    # Translators: in the server's box: how many clients are connected ({count} is drawn in bold).
    connected = html_text(_("connected: {count}: {names}") if listed else _("connected: {count}")).format(
        count=f"<b>{len(active)}</b>", names=listed)
    events = html_text(_("events: {count}")).format(count=f"{scene.applied:,}")
    server_box = (
        f'<div style="position:absolute;box-sizing:border-box;left:{cx - SERVER_W / 2:.0f}px;'
        f"top:{cy - SERVER_H / 2:.0f}px;width:{SERVER_W}px;height:{SERVER_H}px;border:2px solid #343a40;"
        f"border-radius:10px;background:#f1f3f5;padding:6px 8px;font-size:12px;color:#212529;"
        f'overflow:hidden">'
        f'<div style="font-weight:bold;font-size:13px">{html_text(server)}</div>{count}'
        f'<div style="white-space:nowrap;overflow:hidden;text-overflow:ellipsis">'
        f"{connected}</div>"
        f'<div style="color:#495057">{events}</div>'
        f"{message}</div>"
    )
    svg = (
        f'<svg width="{STAGE_W}" height="{STAGE_H}" style="position:absolute;left:0;top:0;pointer-events:none" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(arrows)}</svg>'
    )
    body = "".join(
        _card_html(card, *spots[card.name], focus=card.name == focus, role=roles.get(card.name, ""),
                   tag=(tags or {}).get(card.name, ""))
        for card in cards
    )
    # The arrows are drawn last (on top, not catching the mouse): they run
    # between the boxes, so they cover no text.
    return (
        f'<div style="overflow-x:auto"><div class="spreadlab-scene" style="position:relative;'
        f"width:{STAGE_W}px;height:{STAGE_H}px;background:#ffffff;border:1px solid #dee2e6;"
        f'border-radius:6px;font-family:sans-serif;font-size:13px;line-height:1.35">{server_box}{body}{svg}{more}</div>'
        f"{caption}</div>"
    )
