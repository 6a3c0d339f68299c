"""No silent skip on CI: conftest's ``need``/``need_tool``/``need_module`` skip a test that lacks its
data or tool, saying why, except when env ``CI`` is set, where the test fails instead. The run ends
with the skips counted by reason.

Each case runs pytest in a subprocess on a small generated test module beside a copy of
``tests/conftest.py`` (the file under test), and reads the outcomes from its JUnit XML.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
MISSING_FOLDER = "no-such-data"
MISSING_TOOL = "lesionview-no-such-tool"
MISSING_MODULE = "lesionview_no_such_module"

GENERATED = {
    "test_needs.py": f'''
        import sys
        from pathlib import Path

        import pytest
        from conftest import need, need_module, need_tool

        HERE = Path(__file__).parent


        @pytest.mark.parametrize("case", ["a", "b"])
        def test_folder(case):
            need((HERE / "{MISSING_FOLDER}").is_dir(), "{MISSING_FOLDER} not found (the test data)")


        def test_tool():
            need_tool("{MISSING_TOOL}", why="{MISSING_TOOL} not installed")


        def test_module():
            need_module("{MISSING_MODULE}", "{MISSING_MODULE} not importable")


        def test_present():
            assert need_tool("{MISSING_TOOL}", sys.executable, why="unused") == sys.executable
            assert need_module("json", "unused").dumps([]) == "[]"
            need(HERE.is_dir(), "unused")
    ''',
    "test_needs_at_module_level.py": f'''
        from conftest import need_module

        need_module("{MISSING_MODULE}", "the whole module needs {MISSING_MODULE}")


        def test_never_runs():
            raise AssertionError("the module should have been skipped or failed at collection")
    ''',
}


def run_generated(tmp_path: Path, ci: str | None, *modules: str) -> tuple[subprocess.CompletedProcess,
                                                                           dict[str, str]]:
    """pytest on the generated ``modules`` (default: all) with env CI = ``ci`` (None: unset): the
    process and each test's outcome (passed, failure, error or skipped) with its message."""
    for name, text in GENERATED.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    shutil.copyfile(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env |= {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **({} if ci is None else {"CI": ci})}
    junit = tmp_path / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-c", str(tmp_path / "pytest.ini"),
                           "-p", "no:cacheprovider", f"--junit-xml={junit}", *(modules or [str(tmp_path)])],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name") or case.get("classname")
        child = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        outcomes[name] = "passed" if child is None else f"{child.tag}: {child.get('message')}"
    return done, outcomes


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_under_ci_missing_data_or_tools_fail(tmp_path, ci):
    done, outcomes = run_generated(tmp_path, ci, "test_needs.py")
    assert done.returncode == 1, done.stdout
    assert outcomes["test_present"] == "passed"
    for name, reason in [("test_folder[a]", f"{MISSING_FOLDER} not found (the test data)"),
                         ("test_folder[b]", f"{MISSING_FOLDER} not found (the test data)"),
                         ("test_tool", f"{MISSING_TOOL} not installed"),
                         ("test_module", f"{MISSING_MODULE} not importable")]:
        assert outcomes[name].startswith("failure: "), outcomes
        assert reason in outcomes[name] and "CI is set" in outcomes[name]
    assert "skipped, by reason" not in done.stdout


def test_under_ci_a_module_level_need_stops_the_run_at_collection(tmp_path):
    done, outcomes = run_generated(tmp_path, "true", "test_needs_at_module_level.py")
    assert done.returncode == pytest.ExitCode.INTERRUPTED, done.stdout   # a collection error
    assert "test_never_runs" not in outcomes
    assert list(outcomes.values()) == ["error: collection failure"], outcomes
    assert re.search(rf"ERROR test_needs_at_module_level.py - Failed: the whole module needs {MISSING_MODULE} "
                     r"\(ModuleNotFoundError: .*\) \[CI is set", done.stdout), done.stdout


@pytest.mark.parametrize("ci", [None, "", "0", "false", "no"])
def test_without_ci_they_skip_and_the_run_counts_the_reasons(tmp_path, ci):
    done, outcomes = run_generated(tmp_path, ci)
    assert done.returncode == 0, done.stdout
    assert outcomes["test_present"] == "passed"
    assert outcomes["test_folder[a]"] == outcomes["test_folder[b]"] == (
        f"skipped: {MISSING_FOLDER} not found (the test data)")
    assert outcomes["test_tool"] == f"skipped: {MISSING_TOOL} not installed"
    assert outcomes["test_module"].startswith(f"skipped: {MISSING_MODULE} not importable")
    # The summary at the end: a headline with the total, then one line per reason with its count.
    summary = done.stdout.split("5 skipped, by reason", 1)[1]
    counts = {m[2]: int(m[1]) for m in re.finditer(r"^\s+(\d+)  (.+)$", summary, re.MULTILINE)}
    assert counts[f"{MISSING_FOLDER} not found (the test data)"] == 2
    assert counts[f"{MISSING_TOOL} not installed"] == 1
    assert counts[f"the whole module needs {MISSING_MODULE} (ModuleNotFoundError: No module named "
                  f"'{MISSING_MODULE}')"] == 1
    assert sum(counts.values()) == 5
