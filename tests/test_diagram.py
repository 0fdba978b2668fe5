"""The static sequence diagram: what it draws, that it is inert markup, and
that it is what a trace shows as in a notebook."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

import pytest
from twisted.internet.protocol import Factory
from twisted.protocols.wire import Echo

from spreadlab import MemoryRoom, SpreadFactory, Trace
from spreadlab import trace as T
from spreadlab.views.diagram import sequence_svg

SVG = "{http://www.w3.org/2000/svg}"


def svg_of(fragment: str) -> ET.Element:
    """The ``<svg>`` element of a diagram, parsed as XML (so it is
    well-formed: every client byte was escaped)."""
    match = re.search(r"<svg.*</svg>", fragment, re.S)
    assert match, "no <svg> in the diagram"
    return ET.fromstring(match.group(0))


def texts(svg: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in svg.iter(f"{SVG}text")]


@pytest.fixture
def trace():
    with MemoryRoom(SpreadFactory()) as room:
        alice, bob = room.connect(), room.connect()
        alice.send("hi\n", chunks="bytes")
        bob.close()
        return room.trace


def test_one_lifeline_per_client_and_the_server(trace):
    svg = svg_of(sequence_svg(trace))
    heads = texts(svg)[:3]
    assert heads == ["server", "client 1", "client 2"]


def test_one_arrow_per_chunk_and_write_labelled_with_the_bytes(trace):
    svg = svg_of(sequence_svg(trace))
    labels = texts(svg)
    received = trace.of(T.RECEIVED)
    assert [e.data for e in received] == [b"h", b"i", b"\n"]
    for chunk in ("“h”", "“i”", "“\\n”"):
        assert chunk in labels
    assert "“client 1: hi\\r\\n”" in labels
    # one arrow head per chunk, write, connect and close
    arrows = len(trace.of(T.RECEIVED)) + len(trace.of(T.WRITE)) + len(trace.of(T.CONNECT)) + len(trace.of(T.LOSE)) + len(trace.of(T.EOF))
    assert len(list(svg.iter(f"{SVG}polygon"))) == arrows
    assert "connectionLost(ConnectionDone)" in labels


def test_hostile_bytes_become_text_and_the_diagram_has_no_script():
    hostile = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "\"'><svg onload=alert(1)>"]
    with MemoryRoom(Factory.forProtocol(Echo)) as room:
        client = room.connect()
        for line in hostile:
            client.send(line + "\n")
        client.send(b"\xff\xfe\n")
        fragment = sequence_svg(room.trace)
    svg = svg_of(fragment)  # well-formed: nothing broke out of the markup
    assert {el.tag.replace(SVG, "") for el in svg.iter()} <= {"svg", "rect", "line", "polygon", "text", "g", "title"}
    assert not [name for el in svg.iter() for name in el.attrib if name.lower().startswith("on")]
    assert "<script" not in fragment and "<img" not in fragment
    labels = texts(svg)
    assert "“<img src=x onerror=alert(1)>\\n”" in labels  # shown as the characters they are
    assert "“\\xff\\xfe\\n”" in labels  # undecodable bytes visible
    assert html.escape("<script>") in fragment


def test_it_needs_no_script_and_no_network(trace):
    fragment = sequence_svg(trace)
    assert "<script" not in fragment
    assert re.findall(r"https?://[^\"']+", fragment) == ["http://www.w3.org/2000/svg"]  # the namespace only


def test_a_trace_shows_as_its_diagram_in_a_notebook(trace):
    assert trace._repr_html_() == sequence_svg(trace)


def test_a_long_trace_is_cut_with_a_note_and_stays_small():
    with MemoryRoom(SpreadFactory()) as room:
        a, b = room.connect(), room.connect()
        for i in range(2000):
            a.send(f"line {i}\n")
        fragment, total = sequence_svg(room.trace, limit=100), len(room.trace)
    labels = texts(svg_of(fragment))
    assert any(label.startswith(f"… and {total - 100:,} more events") for label in labels)
    assert len(fragment) < 100_000


def test_an_empty_trace_says_so():
    assert "nothing happened yet" in texts(svg_of(sequence_svg(Trace())))


@pytest.mark.parametrize("exporter", ["HTMLExporter", "SlidesExporter"])
def test_the_diagram_survives_export_to_html_and_slides(trace, exporter):
    """nbconvert keeps the SVG as it is: it shows with no kernel and no script."""
    import nbconvert
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("room.trace")
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/html": sequence_svg(trace), "text/plain": repr(trace)}, execution_count=1)]
    nb.cells = [cell]
    body, _ = getattr(nbconvert, exporter)().from_notebook_node(nb)
    # nbconvert re-serialises the markup (attribute order and case, which the
    # browser's HTML parser puts back for SVG); what is drawn must be the same.
    exported = re.search(r'<div class="spreadlab-diagram".*?</svg>', body, re.S).group(0)
    original = sequence_svg(trace)
    for tag in ("<line", "<polygon", "<text", "<rect"):
        assert exported.count(tag) == original.count(tag)
    assert list(svg_of(exported).itertext()) == list(svg_of(original).itertext())
    assert "<script" not in exported
