"""Is Chinese text drawn as Chinese, or as empty boxes ("tofu")?

Without a CJK font, a browser draws every Chinese character with the font's missing-glyph
box: the page *contains* Chinese but a screenshot shows a row of identical rectangles.
`cjk_rendering` asks the page itself: it draws each character of a text, alone, onto a
canvas in the font a given element of the page uses, and compares the pixels with those of
a code point that no font has (U+0378, unassigned: always the missing-glyph box).  Chinese
is rendered when every character has ink, no character looks like that box, and two
different characters never look alike.  `assert_cjk_renders` fails with what to install.

Works on any Playwright page (JupyterLab, a slide deck, the browser edition).
"""

from __future__ import annotations

#: The package that .ci/run installs for Chinese text (Debian).
CJK_FONT_PACKAGE = "fonts-wqy-zenhei"
#: A code point no font has a glyph for (unassigned in Unicode): its rendering is the missing-glyph box.
MISSING = "\u0378"

_MEASURE_JS = r"""
([text, selector, missing]) => {
  const element = selector ? document.querySelector(selector) : document.body;
  if (!element) return {error: `no element matches ${selector}`};
  const style = getComputedStyle(element);
  const size = 40;
  const font = `${size}px ${style.fontFamily}`;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 2 * size;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (ch) => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = font;
    ctx.fillStyle = '#000';
    ctx.textBaseline = 'top';
    ctx.fillText(ch, 4, 4);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let ink = 0, hash = 0;
    for (let i = 3; i < data.length; i += 4) {
      ink += data[i] > 0;
      hash = (hash * 31 + data[i]) | 0;
    }
    return {ink, hash, width: ctx.measureText(ch).width};
  };
  const box = draw(missing);
  const chars = [...new Set([...text])].filter((ch) => ch.trim());
  return {font: style.fontFamily, box, chars: chars.map((ch) => ({ch, ...draw(ch)}))};
}
"""


def cjk_rendering(page, text: str = "协议工厂传输", selector: str | None = None) -> dict:
    """How *text* is drawn in the font of *selector* (the page's body by default):
    ``{"font", "box", "chars": [{"ch", "ink", "hash", "width"}], "tofu": [chars drawn as boxes]}``."""
    measured = page.evaluate(_MEASURE_JS, [text, selector, MISSING])
    if "error" in measured:
        raise AssertionError(measured["error"])
    box = measured["box"]
    tofu = [c["ch"] for c in measured["chars"] if c["ink"] == 0 or c["hash"] == box["hash"]]
    hashes = {}
    for c in measured["chars"]:
        hashes.setdefault(c["hash"], set()).add(c["ch"])
    tofu += [ch for same in hashes.values() if len(same) > 1 for ch in sorted(same) if ch not in tofu]
    measured["tofu"] = tofu
    return measured


def assert_cjk_renders(page, text: str = "协议工厂传输", selector: str | None = None) -> dict:
    """Fail, naming the font package to install, unless every character of *text* is drawn as itself."""
    measured = cjk_rendering(page, text, selector)
    assert measured["chars"], f"nothing to draw in {text!r}"
    assert not measured["tofu"], (
        f"Chinese text is drawn as empty boxes (tofu) in the font {measured['font']!r}: "
        f"{''.join(measured['tofu'])!r} look like the missing-glyph box or like each other. "
        f"No CJK font is installed: `apt-get install {CJK_FONT_PACKAGE}` (as .ci/run does)."
    )
    return measured
