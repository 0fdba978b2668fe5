"""The learner's language: the catalogs match the source, and the library speaks what a lesson chose.

The catalog check extracts every marked message from spreadlab's source now (Babel) and compares it
with each language's ``.po``: nothing missing, nothing stale, nothing untranslated or fuzzy, the same
``{placeholders}``, and the shipped ``.mo`` is the compiled ``.po``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from spreadlab import i18n
from spreadlab.publish import catalog


@pytest.fixture(autouse=True)
def _back_to_english():
    yield
    i18n.set_language("en")


@pytest.mark.parametrize("locale", catalog.TRANSLATED)
def test_every_message_in_the_source_is_translated_and_compiled(locale, request):
    template = catalog.extract()
    problems = catalog.check(locale, template)
    assert not problems, "\n" + problems.report(locale) + "\n(run `make catalog`, then translate)"
    from conftest import report_count
    report_count(request.config, f"catalog messages translated ({locale})", len([m for m in template if m.id]))


def test_the_check_finds_a_message_the_catalog_lacks(tmp_path, monkeypatch):
    """The check above can fail: a message added to the source is reported missing."""
    template = catalog.extract()
    template.add("A message no catalog has yet.", None, [("spreadlab/new.py", 1)])
    problems = catalog.check("zh_CN", template)
    assert problems.missing == ["A message no catalog has yet."]


def test_a_lesson_chooses_its_language_and_the_quiz_answers_in_it():
    from spreadlab import quiz

    assert i18n.set_language("zh-CN") == "zh-CN"
    box = quiz("?", ["a", "b"], 0, "because")
    box.check()
    assert box.feedback.value == "<i>请先选一个答案。</i>"
    i18n.set_language("en")
    box.check()  # the words are looked up when shown, so the same quiz now speaks English
    assert box.feedback.value == "<i>Pick an answer first.</i>"


@pytest.mark.parametrize("tag", ["fr", "zh-TW", ""])
def test_an_unknown_language_is_refused_by_name(tag):
    with pytest.raises(ValueError, match="spreadlab speaks en, zh-CN"):
        i18n.set_language(tag)


@pytest.mark.parametrize("environment, expected", [
    ({"LANG": "zh_CN.UTF-8"}, "zh-CN"),
    ({"LANGUAGE": "fr:zh_CN", "LANG": "fr_FR.UTF-8"}, "zh-CN"),
    ({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
    ({"LANG": "de_DE.UTF-8"}, "en"),
    ({}, "en"),
])
def test_without_a_choice_the_environment_decides(environment, expected):
    """A fresh interpreter, as a kernel starts, with only these locale variables set."""
    env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(environment)
    code = "from spreadlab import i18n; print(i18n.language(), i18n._('Check'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == [expected, "检查" if expected == "zh-CN" else "Check"]


# --- the library's own words in Chinese: views, rooms, reports (catalog's part of issue 14) ------------------

def _writes_str_echo():
    """A learner's wrong ShoutingEcho: writes str (TypeError: Data must be bytes)."""
    from twisted.internet.protocol import Protocol

    class ShoutingEcho(Protocol):
        def dataReceived(self, data):
            self.transport.write(data.decode().upper())

    return ShoutingEcho


def test_a_board_in_chinese_labels_its_controls_cards_and_status_and_still_escapes_what_clients_send():
    from test_board import assert_inert, card_html

    from spreadlab import MemoryRoom, SpreadFactory
    from spreadlab.views.board import Board

    i18n.set_language("zh-CN")
    room = MemoryRoom(SpreadFactory())
    board = Board(room)
    assert (board.add_button.description, board.send_button.description, board.close_button.description,
            board.abort_button.description, board.sender.description, board.line.placeholder) == (
        "添加客户端", "发送", "关闭", "中止", "发送者", "要发送的一行")
    assert board.abort_button.tooltip == "重置连接（RST）"
    assert [label for label, _ in board.chunking.options] == [
        "整块发送", "一次一个字节", "每块 3 个字节", "在 UTF-8 字符中间切开"]
    board.send_button.click()
    assert board.status.value == "请先添加一个客户端"
    board.add_button.click()
    board.add_button.click()
    assert board.status.value == "client 2 已连接"
    board.line.value = "<img src=x onerror=alert(1)>"
    board.send_button.click()
    assert board.status.value == "client 2 发送了“&lt;img src=x onerror=alert(1)&gt;”"
    board.flush()
    page = board.picture.value
    assert_inert(page)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'color:#2b8a3e"> 已连接 ↑发出</span>' in page and 'color:#2b8a3e"> 已连接 ↓收到</span>' in page
    assert "已连接：<b>2</b>（client 1, client 2）" in page and "事件数：" in page
    assert "从 client 2 收到“&lt;img" in page and "写给 1 个客户端：“" in page  # Spread sends to the others
    board.abort_button.click()
    assert board.status.value == "client 2 已中止连接"
    board.flush()
    assert 'color:#868e96"> 已关闭' in card_html(board, "client 2")
    # The words are looked up when drawn: the same board, back in English.
    i18n.set_language("en")
    board._redrawer.request()
    board.flush()
    assert 'color:#2b8a3e"> connected' in board.picture.value and "已连接" not in board.picture.value
    assert Board(room).add_button.description == "add a client"


def test_a_timeline_and_a_sequence_diagram_in_chinese_name_events_as_the_lessons_do():
    from spreadlab import MemoryRoom, SpreadFactory
    from spreadlab.rooms import trace as T
    from spreadlab.views.diagram import sequence_svg
    from spreadlab.views.timeline import Timeline

    i18n.set_language("zh-CN")
    room = MemoryRoom(SpreadFactory())
    alice, bob = room.connect(), room.connect()
    alice.send("<b>hi</b>\n")
    bob.close()
    # What the room records for a learner is in the learner's language too; Twisted's names stay.
    assert room.trace.of(T.EOF, "client 2")[0].detail == "来自客户端"
    assert room.trace.of(T.CONNECT, "client 1")[0].detail.startswith("来自 127.0.0.1:")
    assert "end-of-file      (来自客户端)" in room.trace.text()

    timeline = Timeline(room.trace)
    assert (timeline.play.description, timeline.back_button.description, timeline.step_button.description,
            timeline.slider.description, timeline.speed.description) == ("播放", "后退", "前进", "事件", "速度")
    assert [label for label, _ in timeline.speed.options] == ["慢", "正常", "快", "很快"]
    assert "第一个事件之前" in timeline.picture.value and ">开始</td>" in timeline.event_list.value
    end = len(room.trace)
    timeline.seek(end).flush()
    assert f"第 {end} 个事件（共 {end} 个）：<b>client 2</b> connectionLost" in timeline.picture.value
    rows = timeline.event_list.value
    assert ">文件结束（EOF）</td>" in rows and ">连接</td>" in rows and ">dataReceived</td>" in rows
    assert "&lt;b&gt;hi&lt;/b&gt;" in rows and "<b>hi" not in rows

    svg = sequence_svg(room.trace)
    assert ">服务器</text>" in svg and f'aria-label="{end} 个事件的时序图"' in svg
    assert ">文件结束（EOF）</text>" in svg and ">连接</text>" in svg and "connectionMade" in svg
    assert "&lt;b&gt;hi" in svg and "<b>hi" not in svg


def test_a_report_in_chinese_frames_every_check_and_escapes_what_the_learner_wrote():
    from twisted.internet.protocol import Protocol

    from spreadlab.teaching.exercises import check_shouting_echo
    from spreadlab.teaching.solutions.protocol import ShoutingEcho

    class RaisesMarkup(Protocol):
        def dataReceived(self, data):
            raise ValueError("<img src=x onerror=alert(1)>")

    i18n.set_language("zh-CN")
    report = check_shouting_echo(RaisesMarkup)
    text, page = str(report), report._repr_html_()
    count = len(report.results)
    assert text.splitlines()[0].endswith(f"——{count} 项检查通过了 0 项。")
    assert "实际看到：你的代码抛出了 ValueError: <img src=x onerror=alert(1)>（第 " in text
    assert "行，在 dataReceived 中）" in text
    assert text.count("实际看到：尚未检查：它依赖上面那个没有通过的检查项") == count - 1
    assert "提示：先解决上面没有通过的检查项“" in text and "”，再运行一次检查器" in text
    assert "<img" not in page and "ValueError: &lt;img src=x onerror=alert(1)&gt;（第 " in page
    assert "<b>提示：</b>" in page and "实际看到：<code>" in page and "seen:" not in page and "Hint:" not in page
    passed = check_shouting_echo(ShoutingEcho)
    assert passed.summary().endswith(f"——全部 {len(passed.results)} 项检查都通过了。做得好！")


def test_a_report_made_before_the_language_was_chosen_shows_its_hints_in_it():
    """The checkers keep their hints in English (marked N_); the report looks them up when shown."""
    from spreadlab.teaching.exercises import check_shouting_echo

    report = check_shouting_echo(_writes_str_echo())
    assert "hint: transport.write takes bytes, never str" in str(report)
    i18n.set_language("zh-CN")
    assert "提示：transport.write 只接受 bytes，不接受 str（也不接受数字）" in str(report)
    assert "transport.write takes bytes" not in report._repr_html_()


def test_the_reactor_explains_itself_in_chinese():
    from spreadlab.rooms import background

    i18n.set_language("zh-CN")
    reactor = background.start_reactor()
    with pytest.raises(background.ReactorRunsInBackground, match=r"^这里不需要 reactor\.run\(\)：反应器已经在 spreadlab 启动的一个后台线程里运行"):
        reactor.run()
    with pytest.raises(background.ReactorRunsInBackground, match=r"^reactor.stop\(\) 被拒绝"):
        reactor.stop()


def test_a_blocked_reactor_is_reported_in_chinese():
    import threading

    from spreadlab.rooms.background import blocking_call, start_reactor, submit

    start_reactor()
    i18n.set_language("zh-CN")
    released = threading.Event()

    def slow_handler():
        released.wait(10)  # holds the reactor thread, as time.sleep would

    submit(slow_handler)
    try:
        with pytest.raises(TimeoutError) as info:
            blocking_call(lambda: "answer", timeout=0.3)
    finally:
        released.set()
    message = str(info.value)
    assert message.startswith("反应器线程正忙于执行你的 slow_handler（第 "), message
    assert "行：released.wait(10)  # holds the reactor thread, as time.sleep would）：它运行期间，反应器不能为任何人读、写或运行定时器。" in message
    assert "；因此：" in message and "<lambda> 没有在 0.3 秒内在反应器线程里完成（仍在等待的 Deferred 已被取消）" in message
    assert blocking_call(lambda: "free again") == "free again"


def _cell_outputs(cell) -> str:
    texts = []
    for out in cell.outputs:
        texts.append(out.get("text", ""))
        texts += [out.get("data", {}).get(kind, "") for kind in ("text/plain", "text/html")]
    return "\n".join(texts)


@pytest.mark.timeout(180)
def test_a_checker_run_in_a_chinese_notebook_answers_in_chinese(tmp_path):
    """Issue 14: a fresh kernel (nbclient) runs a notebook that chooses Chinese at its top, defines a
    wrong answer and runs the checker: the report it shows is in Chinese, frame and hint."""
    import nbformat
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[
        new_code_cell('from spreadlab import set_language\nset_language("zh-CN")'),
        new_code_cell("from twisted.internet.protocol import Protocol\n\n"
                      "class ShoutingEcho(Protocol):\n"
                      "    def dataReceived(self, data):\n"
                      "        self.transport.write(data.decode().upper())"),
        new_code_cell("from spreadlab.teaching.exercises import check_shouting_echo\n"
                      "check_shouting_echo(ShoutingEcho)"),
    ])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = nb.cells[2].outputs[0]["data"]
    for kind in ("text/plain", "text/html"):
        assert "项检查通过了 0 项。" in shown[kind], shown[kind]
        assert "你的代码抛出了 TypeError: Data must be bytes（第 5 行，在 dataReceived 中）" in shown[kind]
        assert "transport.write 只接受 bytes，不接受 str（也不接受数字）：写之前把文本编码成 UTF-8" in shown[kind]
        assert "尚未检查：它依赖上面那个没有通过的检查项" in shown[kind]
    assert "提示：transport.write" in shown["text/plain"] and "<b>提示：</b> transport.write" in shown["text/html"]
    assert "checks passed" not in _cell_outputs(nb.cells[2]) and "hint" not in shown["text/plain"]


@pytest.mark.timeout(300)
def test_the_built_wheel_ships_the_compiled_catalog_and_speaks_chinese_from_it(tmp_path):
    """``pip wheel`` of the package (from a copy of the checkout) contains the .mo; the package
    unpacked from that wheel alone answers in Chinese."""
    import shutil
    import zipfile
    from pathlib import Path

    root = Path(catalog.PACKAGE_DIR).parent
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    shutil.copytree(root / "spreadlab", source / "spreadlab", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path / "dist"),
                    str(source)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("spreadlab-*.whl"))
    mo = "spreadlab/locale/zh_CN/LC_MESSAGES/spreadlab.mo"
    with zipfile.ZipFile(wheel) as whl:
        assert whl.read(mo) == (root / mo).read_bytes()
        whl.extractall(tmp_path / "installed")
    code = ("from spreadlab import i18n; i18n.set_language('zh-CN'); "
            "from spreadlab.teaching.exercises.report import Report, Result; "
            "r = Report('T'); r.results.append(Result('x', False, '', 'y')); print(r.summary())")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "installed"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    assert out.strip() == "T——1 项检查通过了 0 项。"


def test_a_room_tells_a_learner_in_chinese_what_went_wrong():
    """Errors a learner meets in the lessons: a port another program holds, a closed room, a name
    no client has, and every `seen` on a card of the board."""
    import socket

    from spreadlab import MemoryRoom, SpreadFactory
    from spreadlab.rooms.live import LiveRoom, PortInUse

    i18n.set_language("zh-CN")
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(PortInUse) as info:
            LiveRoom(SpreadFactory(), f"tcp:{port}:interface=127.0.0.1")
    assert str(info.value).startswith(f"端口 {port} 已被另一个程序占用（另一个笔记本的内核？"), str(info.value)
    assert f"`lsof -i :{port}` 能看出是哪个）：停止那个程序，或者换一个端口" in str(info.value)
    room = MemoryRoom(SpreadFactory())
    with pytest.raises(KeyError, match="这个房间里没有叫 'client 9' 的客户端"):
        room.client("client 9")
    room.close()
    with pytest.raises(RuntimeError, match="^这个房间已经关闭；请新建一个$"):
        room.connect()


def test_the_browser_edition_says_in_chinese_why_a_cell_does_not_run_there(capsys):
    from spreadlab.publish import browser

    i18n.set_language("zh-CN")
    browser.needs_network("", "print('not run')")
    shown = capsys.readouterr().out  # outside a kernel, IPython prints what it would display
    assert "这个单元格需要真实的网络连接（Twisted 的反应器、套接字、线程或 shell）" in shown
    assert "&#9888; 这个单元格需要真实的网络连接" in shown and "not run" not in shown


def _scopes_that_shadow_gettext(source: str) -> list[int]:
    """Lines of the functions (lambdas, comprehensions) in *source* that bind ``_`` and also call
    ``_()``: there ``_`` is the local (``for _ in range(...)``), and the call raises TypeError."""
    import ast

    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
              ast.GeneratorExp)
    found = []
    for scope in ast.walk(ast.parse(source)):
        if not isinstance(scope, scopes):
            continue
        arguments = scope.args if isinstance(getattr(scope, "args", None), ast.arguments) else None
        bound = bool(arguments) and any(a.arg == "_" for a in arguments.posonlyargs + arguments.args
                                        + arguments.kwonlyargs)
        called = False
        inside = list(ast.iter_child_nodes(scope))
        while inside:  # this scope's own nodes, not those of the scopes nested in it
            node = inside.pop()
            bound |= isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store)
            called |= isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
            if not isinstance(node, scopes):
                inside.extend(ast.iter_child_nodes(node))
        if bound and called:
            found.append(scope.lineno)
    return found


def test_no_function_hides_gettext_behind_a_local_underscore():
    from pathlib import Path

    assert _scopes_that_shadow_gettext("def f():\n    for _ in range(3):\n        pass\n    return _('x')\n") == [1]
    shadowed = {str(path): lines for path in Path(catalog.PACKAGE_DIR).rglob("*.py")
                if (lines := _scopes_that_shadow_gettext(path.read_text(encoding="utf-8")))}
    assert not shadowed


def test_a_card_names_an_error_in_chinese_in_a_few_words_and_keeps_the_rest_in_its_tooltip():
    from test_board import card_html
    from twisted.internet.protocol import Factory, Protocol

    from spreadlab import MemoryRoom
    from spreadlab.views.board import Board

    class Grumpy(Protocol):
        def connectionMade(self):
            raise ValueError("not today")

    i18n.set_language("zh-CN")
    room = MemoryRoom(Factory.forProtocol(Grumpy), raise_errors=False)
    room.connect()
    card = card_html(Board(room), "client 1")
    assert 'title="错误 在 connectionMade 中：ValueError: not today">错误 在 connectionMade 中</div>' in card, card


def test_a_terminal_client_is_tagged_as_each_language_writes_it():
    from spreadlab.views.board import _terminal

    assert _terminal() == " (terminal)"
    i18n.set_language("zh-CN")
    assert _terminal() == "（终端）"  # no space before a full-width bracket
