"""The documentation: CLI synopses generated from the CLI, a site that builds without a warning,
and a README example that runs and gives the twin phantom's truth."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, need, need_module

README = REPO_ROOT / "README.md"
CLI_MD = REPO_ROOT / "docs" / "cli.md"
TWIN = REPO_ROOT / "sample_data" / "twin"


def _cli_docs():
    spec = importlib.util.spec_from_file_location("cli_docs", REPO_ROOT / "scripts" / "cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_md_is_what_the_cli_generates():
    generated = _cli_docs().generate()
    assert CLI_MD.read_text(encoding="utf-8") == generated, (
        "docs/cli.md is out of date: run `python scripts/cli_docs.py`")
    # the options the hand-written synopses once missed are there, with their values
    for text in ("--centerline", "sct-discs", "totalsegmentator-mr", "## `report`", "--identified",
                 "--format", "## `batch`", "--memory-per-worker"):
        assert text in generated, text


def test_cli_md_does_not_depend_on_the_terminal():
    """Typer's rich help follows the terminal's width and colour; the page must not."""
    env = os.environ | {"COLUMNS": "37", "TERMINAL_WIDTH": "37", "FORCE_COLOR": "1"}
    code = ("import sys; sys.path.insert(0, 'scripts'); import cli_docs; "
            "sys.stdout.write(cli_docs.generate())")
    run = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO_ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == CLI_MD.read_text(encoding="utf-8")


def test_mkdocs_builds_strict_without_warnings(tmp_path):
    need_module("mkdocs", "mkdocs builds the documentation (pip install -e '.[docs]')")
    need_module("material", "mkdocs-material is the documentation's theme (pip install -e '.[docs]')")
    need_module("mkdocstrings_handlers.python", "mkdocstrings[python] renders the API page "
                "(pip install -e '.[docs]')")
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1"}
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                         check=False, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    warnings = [line for line in output.splitlines() if re.search(r"\bWARNING\b", line)]
    assert run.returncode == 0, output
    assert warnings == [], "\n".join(warnings)
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("lesionview.study.Study", "lesionview.measure.measure",
                 "lesionview.measure.sct.sct_metrics", "lesionview.measure.signs.enhancement_signs"):
        assert f'id="{name}"' in api, name
    assert (tmp_path / "site" / "cli" / "index.html").is_file()


def _readme_python_block() -> str:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    assert len(blocks) == 1, f"expected one python example in the README, found {len(blocks)}"
    return blocks[0]


def test_readme_api_example_is_short():
    code = _readme_python_block()
    assert len(code.strip().splitlines()) <= 12
    ast.parse(code)


def test_readme_api_example_runs_and_finds_the_twin_truth():
    need((TWIN / "lesion.nii.gz").is_file() and (TWIN / "truth.json").is_file(),
         f"{TWIN} has no phantom: run `make sample`")
    truth = json.loads((TWIN / "truth.json").read_text(encoding="utf-8"))
    run = subprocess.run([sys.executable, "-c", _readme_python_block()], check=False, cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    summary, diameters = run.stdout.strip().splitlines()[-2:]
    assert truth["multiplicity"] == "adjacent pair"
    assert "(adjacent pair)" in summary
    assert "T2 cord edema at vertebral levels " + truth["edema"]["levels"] in summary
    measured = ast.literal_eval(diameters)
    expected = [lesion["max_diameter_mm"] for lesion in sorted(truth["lesions"], key=lambda le: le["id"])]
    # within half a 3 mm slice: what a mask on this grid can know about a lesion's ends
    assert measured == pytest.approx(expected, abs=truth["voxel_spacing_mm"]["slice"] / 2)
