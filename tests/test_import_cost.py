"""The command line stays light: what a command does not need is not imported.

Every CLI call and every batch worker pays for each module imported at start-up (scipy.interpolate
alone costs ~0.4 s). Each test runs a fresh interpreter and reads which modules it imported: its
``sys.modules`` at the end, or for the console script the ``-X importtime`` lines (which also list
an import refused by a ``None`` in ``sys.modules``). No timing is asserted here:
``benchmarks/bench_start.py`` measures the start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need

TIMEOUT = 300  # per subprocess: generous, two shared cores
SCRIPT = Path(sys.executable).parent / "lesionview"

#: Modules that cost tens to hundreds of milliseconds to import, that only the measuring, report,
#: GUI and batch code needs.
HEAVY = ("scipy.interpolate", "scipy.optimize", "scipy.special", "scipy.ndimage", "scipy.spatial",
         "nibabel", "pydicom", "requests", "SimpleITK", "matplotlib", "skimage", "highdicom",
         "weasyprint", "jinja2", "dask", "distributed", "pandas", "numpy", "pydantic")


def heavy_in(modules: set[str], heavy=HEAVY) -> list[str]:
    """The heavy packages among ``modules``: a package counts when it or any of its modules is in."""
    return sorted(h for h in heavy if any(m == h or m.startswith(h + ".") for m in modules))


def modules_after(code: str) -> set[str]:
    """The names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    res = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    return set(json.loads(res.stdout.strip().splitlines()[-1]))


def modules_after_cli(*args) -> tuple[set[str], subprocess.CompletedProcess]:
    """The names in ``sys.modules`` after ``lesionview ARGS`` (:func:`lesionview.cli.main`) ran in a
    fresh interpreter, and the finished process (its stdout is the command's)."""
    probe = (f"import json, sys\nsys.argv = ['lesionview', *{[os.fspath(a) for a in args]!r}]\n"
             "from lesionview.cli import main\n"
             "try:\n    main()\nfinally:\n    sys.stderr.write('\\n' + json.dumps(sorted(sys.modules)))")
    res = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True,
                         timeout=TIMEOUT)
    return set(json.loads(res.stderr.strip().splitlines()[-1])), res


def imported_by(cmd: list) -> tuple[set[str], subprocess.CompletedProcess]:
    """Every module that the process ``cmd`` imported (``PYTHONPROFILEIMPORTTIME``: the console
    script and ``python -m`` alike), and the finished process."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    res = subprocess.run([os.fspath(c) for c in cmd], check=False, capture_output=True, text=True,
                         env=env, timeout=TIMEOUT)
    names = {line.rsplit("|", 1)[1].strip() for line in res.stderr.splitlines()
             if line.startswith("import time:") and line.count("|") == 2}
    assert names, "no -X importtime lines: the probe itself is broken"
    return names - {"name"}, res  # "name": the header line


def public_scipy(modules: set[str]) -> list[str]:
    """scipy subpackages (nibabel imports the bare ``scipy`` package to see whether it is there)."""
    return sorted(m for m in modules if m.startswith("scipy.") and not m.split(".")[1].startswith("_")
                  and m != "scipy.version")


def test_the_probes_see_a_heavy_import():
    assert heavy_in(modules_after("import scipy.interpolate")) == [
        "numpy", "scipy.interpolate", "scipy.optimize", "scipy.spatial", "scipy.special"]
    names, _ = imported_by([sys.executable, "-c", "import json"])
    assert "json" in names
    names, res = modules_after_cli("info", "--json", "/nonexistent")
    assert res.returncode == 2 and "lesionview.cli.info" in names, res.stderr


def test_importing_the_cli_imports_nothing_heavy():
    assert heavy_in(modules_after("import lesionview, lesionview.cli")) == []


def test_building_the_app_imports_nothing_heavy():
    modules = modules_after("import lesionview.cli\nlesionview.cli._app()")
    assert {"typer", "lesionview.cli.info", "lesionview.cli.report"} <= modules  # it was built
    assert heavy_in(modules) == []


@pytest.mark.parametrize("entry", ["module", "script"])
def test_help_imports_nothing_heavy(entry):
    need(entry == "module" or SCRIPT.is_file(), f"no console script at {SCRIPT} (pip install -e .)")
    cmd = [sys.executable, "-m", "lesionview"] if entry == "module" else [SCRIPT]
    names, res = imported_by([*cmd, "--help"])
    assert res.returncode == 0 and "info" in res.stdout and "measure" in res.stdout, res.stdout
    assert heavy_in(names) == []


def test_info_on_nifti_imports_no_scipy_and_no_pydicom(shared_data):
    names, res = modules_after_cli("info", "--json", shared_data / "sct_t2" / "t2.nii.gz")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["series"][0]["shape"] == [60, 55, 52]  # it did read the file
    assert "nibabel" in names
    assert public_scipy(names) == []
    assert heavy_in(names, ("pydicom", "requests", "SimpleITK", "matplotlib", "skimage", "highdicom",
                            "weasyprint", "jinja2", "dask", "pandas")) == []


def test_info_on_a_dicom_series_imports_pydicom_alone(shared_data):
    names, res = modules_after_cli("info", "--json", shared_data / "dicom" / "sagittal_t1_series")
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)["series"]) >= 1
    assert "pydicom" in names
    assert heavy_in(names, ("nibabel", "requests", "SimpleITK", "matplotlib", "skimage", "highdicom",
                            "weasyprint", "jinja2", "dask", "pandas")) == []
    assert not any(m == "scipy" or m.startswith("scipy.") for m in names)


def test_absent_fails_an_import_within_the_block_alone():
    code = ("import sys\nfrom lesionview.io.lean_imports import absent\nassert 'tomllib' not in sys.modules\n"
            "with absent('tomllib'):\n    try:\n        import tomllib\n    except ModuleNotFoundError:\n"
            "        print('refused')\nimport tomllib\nprint(tomllib.__name__)")
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["refused", "tomllib"]

