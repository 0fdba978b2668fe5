"""The check that Chinese is drawn as Chinese (`glyphs`), shown to see both cases.

With the machine's fonts, Chinese text passes and unassigned code points are caught as
boxes.  Then a second Chromium is started with a font configuration that has only the
Latin fonts (no CJK font, as on a machine without ``fonts-wqy-zenhei``): the same Chinese
text is caught as tofu, and the failure names the package to install.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import CHROMIUM_ARGS, chromium_executable
from .glyphs import CJK_FONT_PACKAGE, assert_cjk_renders, cjk_rendering

pytestmark = pytest.mark.browser

PAGE = '<html lang="zh-CN"><body><p id="t">协议、工厂和传输</p></body></html>'
LATIN_FONTS = [d for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
               if Path(d).is_dir()]


def test_chinese_passes_and_unassigned_code_points_are_caught(chromium):
    page = chromium.new_page()
    try:
        page.set_content(PAGE)
        measured = assert_cjk_renders(page, "协议工厂传输", "#t")
        assert all(c["ink"] > 50 for c in measured["chars"]), measured
        boxes = cjk_rendering(page, "\u0379\u0380\u0381", "#t")
        assert boxes["tofu"] == ["\u0379", "\u0380", "\u0381"], boxes
    finally:
        page.close()


def test_without_a_cjk_font_the_check_fails_and_names_the_package(chromium, tmp_path):
    if not LATIN_FONTS:
        pytest.skip("no Latin font folder to build a font configuration without CJK from")
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        + "".join(f"<dir>{d}</dir>" for d in LATIN_FONTS)
        + f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    # A second Chromium, from the same Playwright (its sync API cannot nest), seeing Latin fonts only.
    browser = chromium.browser_type.launch(executable_path=chromium_executable(), headless=True,
                                           args=CHROMIUM_ARGS,
                                           env={"FONTCONFIG_FILE": str(config), "HOME": str(tmp_path)})
    try:
        page = browser.new_page()
        page.set_content(PAGE)
        assert "工厂" in page.inner_text("#t")  # the text is there; only its drawing is wrong
        with pytest.raises(AssertionError, match=CJK_FONT_PACKAGE) as failure:
            assert_cjk_renders(page, "协议工厂传输", "#t")
        assert "tofu" in str(failure.value)
    finally:
        browser.close()
