"""The package as a learner and an instructor import it."""

import subprocess
import sys

import spreadlab


def test_one_import_brings_every_helper_a_lesson_uses():
    namespace = {}
    exec("from spreadlab import *", namespace)
    for name in spreadlab.__all__:
        assert name in namespace, name
    assert namespace["Board"].__module__ == "spreadlab.views.board"
    assert namespace["LiveRoom"].__module__ == "spreadlab.rooms.live"


def test_unknown_names_still_fail_clearly():
    try:
        spreadlab.Bored
    except AttributeError as error:
        assert "Bored" in str(error)
    else:
        raise AssertionError("spreadlab.Bored should not exist")


def test_the_classroom_server_does_not_load_the_notebook_stack():
    code = "import sys, spreadlab.__main__; print(sorted(m for m in ('IPython', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
