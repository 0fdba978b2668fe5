"""The timeline: replay a trace step by step, in ipywidgets.

``Timeline(trace)`` (or ``Timeline(room)``) shows the room as it was after
any number of events: step forward and back, play and pause at a chosen
speed (``ipywidgets.Play``), or scrub with the slider.  The picture (the same
one as the live board) and the list of events around the current one stay in
sync, and the current event is highlighted in both.

Position *p* means "after the first *p* events": 0 is before anything
happened, ``len(trace)`` is the end, and the current event is ``trace[p - 1]``
(its logical time is *p*).

It works on a finished trace and follows a running one: new events extend
the slider and, if you were watching the end, keep you at the end.  Events
may be recorded from the reactor thread; drawing happens in the kernel's
thread at a bounded rate (`spreadlab.views.redraw.Redrawer`).  Its words are
in the learner's language (`spreadlab.i18n`), looked up when it is built or
drawn.
"""

from __future__ import annotations

import copy

import ipywidgets as widgets

from ..i18n import N_, _
from ..rooms import trace as T
from ..servers.safety import html_text
from .redraw import Redrawer, close_all
from .rerun import replace_earlier_run
from .scene import Scene, bytes_html, kind_label, scene_html

#: Play speeds: the label and the milliseconds between two events.
SPEEDS = [(N_("slow"), 1200), (N_("normal"), 500), (N_("fast"), 150), (N_("very fast"), 40)]
#: A copy of the picture is kept every this many events, so going back is quick.
SNAPSHOT_EVERY = 256


class _Replay:
    """The scene after any prefix of a list of events, computed forward from
    the nearest snapshot."""

    def __init__(self, keep: int) -> None:
        self.scene = Scene(keep)
        self.snapshots = {0: copy.deepcopy(self.scene)}

    def at(self, events: list[T.Event], position: int) -> Scene:
        if position < self.scene.applied:
            base = max(k for k in self.snapshots if k <= position)
            self.scene = copy.deepcopy(self.snapshots[base])
        while self.scene.applied < position:
            self.scene.apply(events[self.scene.applied])
            if self.scene.applied % SNAPSHOT_EVERY == 0 and self.scene.applied not in self.snapshots:
                self.snapshots[self.scene.applied] = copy.deepcopy(self.scene)
        return self.scene


class Timeline(widgets.VBox):
    """Replay *source* (a `spreadlab.Trace`, or a room: its trace) event by
    event.

    ``position``, ``current``, `step`, `back` and `seek` drive it from
    Python; ``play``, ``slider``, ``back_button``, ``step_button`` and
    ``speed`` from the page; ``picture`` and ``event_list`` show it.
    *at* is where it starts (the beginning for a trace, the end for a
    room); ``window`` events are listed on each side of the current one;
    ``follow`` keeps you at the end of a running trace.  Use it from the
    kernel's thread.
    """

    def __init__(self, source, *, at: int | None = None, lines: int = 8, window: int = 8,
                 follow: bool = True, speed: str = "normal", rate: float = 10.0, max_cards: int = 8) -> None:
        self.trace: T.Trace = source if isinstance(source, T.Trace) else source.trace
        factory = getattr(source, "factory", None)
        self.server = type(factory).__name__ if factory is not None else _("server")
        self.window = window
        self.follow = follow
        self.max_cards = max_cards
        self._events: list[T.Event] = self.trace.events
        self._replay = _Replay(lines)
        end = len(self._events)
        # A recorded trace starts at the beginning; a room's at "now".
        start = max(0, min(end, at if at is not None else (0 if source is self.trace else end)))

        self.play = widgets.Play(value=start, min=0, max=end, step=1, interval=dict(SPEEDS)[speed],
                                 description=_("play"), show_repeat=False)
        # Translators: the slider's label: which event of the trace is shown.
        self.slider = widgets.IntSlider(value=start, min=0, max=end, description=_("event"),
                                        layout=widgets.Layout(width="420px"))
        widgets.link((self.play, "value"), (self.slider, "value"))
        self.speed = widgets.Dropdown(options=[(_(label), ms) for label, ms in SPEEDS], value=dict(SPEEDS)[speed],
                                      description=_("speed"),
                                      layout=widgets.Layout(width="180px"))
        self.speed.style.description_width = "45px"
        widgets.link((self.speed, "value"), (self.play, "interval"))
        # Translators: buttons: one event back, one event forward.
        self.back_button = widgets.Button(description=_("back"), icon="step-backward", layout=widgets.Layout(width="90px"))
        self.step_button = widgets.Button(description=_("step"), icon="step-forward", layout=widgets.Layout(width="90px"))
        self.back_button.on_click(lambda _: self.back())
        self.step_button.on_click(lambda _: self.step())
        self.picture = widgets.HTML()
        self.event_list = widgets.HTML()
        self.slider.observe(lambda _: self._redrawer.request(), names="value")

        controls = widgets.HBox([self.play, self.back_button, self.step_button, self.slider, self.speed])
        # Side by side when the page is wide enough, the list under the picture when not.
        view = widgets.HBox([self.picture, self.event_list],
                            layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"))
        super().__init__([controls, view])
        self._redrawer = Redrawer(self._draw, rate=rate)
        self._unsubscribe = self.trace.subscribe(lambda event: self._redrawer.request())
        self._redrawer.request()
        self._redrawer.flush()
        replace_earlier_run(self)  # a cell run again: its earlier timeline stops

    # --- driving it from Python (kernel's thread) ------------------------------

    @property
    def position(self) -> int:
        """How many events have happened at the moment shown."""
        return self.slider.value

    @property
    def current(self) -> T.Event | None:
        """The event just shown (``None`` at position 0)."""
        position = self.position
        return self._events[position - 1] if position else None

    def seek(self, position: int) -> "Timeline":
        """Jump to *position* (clamped to 0 .. the end)."""
        self._catch_up()
        self.slider.value = max(0, min(int(position), self.slider.max))
        return self

    def step(self, n: int = 1) -> "Timeline":
        """Forward *n* events."""
        return self.seek(self.position + n)

    def back(self, n: int = 1) -> "Timeline":
        """Back *n* events."""
        return self.seek(self.position - n)

    def flush(self) -> bool:
        """Draw now what is pending (the kernel's loop does it by itself)."""
        return self._redrawer.flush()

    @property
    def redraws(self) -> int:
        return self._redrawer.redraws

    def close(self) -> None:
        """Stop following the trace and close the widgets."""
        self._unsubscribe()
        self._redrawer.stop()
        close_all(self)

    # --- drawing (kernel's thread) --------------------------------------------------

    def _catch_up(self) -> None:
        """Take in events recorded since the last look; follow the end."""
        if len(self.trace) == len(self._events):
            return
        old_end = len(self._events)
        self._events.extend(self.trace.events[old_end:])
        end = len(self._events)
        at_end = self.slider.value == old_end
        self.slider.max = self.play.max = end
        if self.follow and at_end and not self.play.playing:
            self.slider.value = end

    def _draw(self) -> None:
        self._catch_up()
        position = self.position
        scene = self._replay.at(self._events, position)
        current = self.current
        if current is None:
            caption = html_text(_("before the first event"))
        else:
            caption = _("event {position} of {count}: {event}").format(
                position=position, count=len(self._events), event=_event_html(current))
        self.picture.value = scene_html(
            scene,
            server=self.server,
            focus=current.client if current is not None else None,
            caption=f'<div style="font-size:13px;margin-top:4px">{caption}</div>',
            max_cards=self.max_cards,
        )
        self.event_list.value = self._list_html(position)

    def _list_html(self, position: int) -> str:
        first = max(0, position - 1 - self.window)
        last = min(len(self._events), position + self.window)
        rows = []
        if first == 0:
            style = "background:#fff3bf;font-weight:bold" if position == 0 else "color:#868e96"
            # Translators: the first row of the event list: before any event.
            start = html_text(_("start"))
            rows.append(f'<tr style="{style}"><td></td><td colspan="3">{start}</td></tr>')
        for event in self._events[first:last]:
            style = "background:#fff3bf;font-weight:bold" if event.time == position else ""
            if event.time > position:
                style += ";color:#adb5bd"  # what has not happened yet
            data = f"“{bytes_html(event.data, 28)}”" if event.kind in (T.RECEIVED, T.WRITE) else html_text(event.detail)
            rows.append(
                f'<tr style="{style}" data-time="{event.time}"><td style="text-align:right">{event.time}</td>'
                f'<td style="padding:0 8px">{html_text(event.client)}</td><td style="padding-right:8px">{html_text(kind_label(event.kind))}</td>'
                f'<td style="max-width:240px;overflow:hidden;text-overflow:ellipsis">{data}</td></tr>'
            )
        if last < len(self._events):
            more = html_text(_("… {count} more").format(count=f"{len(self._events) - last:,}"))
            rows.append(f'<tr style="color:#868e96"><td></td><td colspan="3">{more}</td></tr>')
        return (
            '<div><table style="font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;'
            'line-height:1.5;border-collapse:collapse;margin-left:10px;white-space:nowrap">' + "".join(rows) + "</table></div>"
        )


def _event_html(event: T.Event) -> str:
    text = f"<b>{html_text(event.client)}</b> {html_text(kind_label(event.kind))}"
    if event.kind in (T.RECEIVED, T.WRITE):
        text += f" “{bytes_html(event.data, 60)}”"
    elif event.detail:
        text += f" ({html_text(event.detail)})"
    return text
