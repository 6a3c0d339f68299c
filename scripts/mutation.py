"""Mutation testing of the core modules with cosmic-ray (``make mutation``; not part of ``make test``).

For each target module, cosmic-ray mutates a *copy* of the project under ``mutants/<name>/``
(git-ignored), never the working tree: cosmic-ray writes each mutant into the source file on disk,
and other runs of the tests (an editor, another ``pytest``) must not see it. The copy's ``src``
and ``plugins`` come first on ``PYTHONPATH``, ahead of the editable install's finder, which
setuptools appends after the path finder. The test command runs only the fast test files that
exercise that module, without the GUI tests (``-m "not gui"``), and stops at the first failure.

    python scripts/mutation.py                       # every target
    python scripts/mutation.py multiplicity          # one target
    python scripts/mutation.py multiplicity --budget 900 --timeout 60
    python scripts/mutation.py multiplicity --resume # continue an interrupted session
    python scripts/mutation.py multiplicity --resume --retest-survivors  # after new tests
    python scripts/mutation.py study --workers 2     # two mutants at a time

Prints one row per module: mutants, those skipped as equivalent because they only change a type
annotation ("annot.", see ``_skip_annotations``), killed, survived, timeout, not run (budget
exhausted) and the score (killed + timeout over the mutants run), then every survivor's diff.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import json
import os
import random
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tokenize
import traceback
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRATCH = REPO_ROOT / "mutants"
PYTHON = sys.executable
COSMIC_RAY = [PYTHON, "-m", "cosmic_ray.cli"]

# Module -> the test files that exercise it (found by grep for its names). Only those run for each
# mutant: the whole suite takes minutes, and a mutant needs one failing test to be killed.
DIAMETER_TESTS = ["tests/test_diameters.py", "tests/test_diameters_contract.py", "tests/test_measure_orientation.py"]
TARGETS: dict[str, tuple[str, list[str]]] = {
    "multiplicity": ("src/lesionview/measure/multiplicity.py",
                     ["tests/test_multiplicity_classify.py", "tests/test_multiplicity_table.py", "tests/test_measure.py"]),
    "sections": ("src/lesionview/measure/sections.py",
                 ["tests/test_sections.py", "tests/test_sections_contract.py",
                  "tests/test_multiplicity_table.py"]),
    # diameters.py is the public face; the diameters are computed in its private modules.
    "diameters": ("src/lesionview/measure/diameters.py", DIAMETER_TESTS),
    "diameters_calibrated": ("src/lesionview/measure/_calibrated.py", DIAMETER_TESTS),
    "diameters_axial": ("src/lesionview/measure/_axial.py", DIAMETER_TESTS),
    "diameters_hull": ("src/lesionview/measure/_hull.py", DIAMETER_TESTS),
    "study": ("src/lesionview/measure/study.py",
              ["tests/test_measure_study_contract.py", "tests/test_measure_study_edges.py", "tests/test_study.py",
               "tests/test_measure.py",
               "tests/test_measure_layout.py", "tests/test_measure_phantom.py",
               "tests/test_edema_context.py", "tests/test_sct_metrics.py", "tests/test_cord_segments.py",
               "tests/test_thick_slice_uncertainty.py"]),
    "levels_model": ("src/lesionview/levels/model.py",
                     ["tests/test_levels_contract.py", "tests/test_levels_boundaries.py", "tests/test_levels.py",
                      "tests/test_landmark_files.py"]),
    "nifti": ("src/lesionview/io/nifti.py",
              ["tests/test_nifti_contract.py", "tests/test_nifti.py", "tests/test_nifti_input.py",
               "tests/test_oracles.py",
               "tests/test_bad_input_matrix.py"]),
    "dicom_stack": ("src/lesionview/io/dicom/stack.py",
                    ["tests/test_dicom_stack_contract.py", "tests/test_dicom_input.py",
                     "tests/test_dicom_series.py", "tests/test_series.py",
                     "tests/test_dicom_robustness.py"]),
}

# Copied (mutated or importing the mutated code); everything else at the top level is linked.
COPIED = ("src", "plugins", "tests", "pyproject.toml")
NOT_LINKED = {".git", ".venv", "mutants", "build", "site", ".pytest_cache", ".ruff_cache"}
_IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")


def _digest(path: Path) -> str:
    """A hash of the module's code tokens and their positions, blind to comments.

    cosmic-ray applies a mutation by operator and occurrence, and this script reads the positions
    it stored (to skip annotations, pick the tests covering a line and report lines), so a session
    stays valid as long as every code token keeps its place: editing a comment's words keeps the
    session, while any change to the code, or a line added or removed above it, starts a new one.
    (The ends of lines are left out: their position follows a trailing comment's length.) The
    tokens depend on the Python version (3.12 splits f-strings), so a session is kept only under
    the interpreter that made it.
    """
    with path.open("rb") as f:
        tokens = [(t.type, t.string, t.start) for t in tokenize.tokenize(f.readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)]
    return hashlib.sha256(repr(tokens).encode()).hexdigest()


def _copy_project(work: Path) -> None:
    """Copy (or copy afresh) the entries of COPIED from the repository into ``work``."""
    for entry in COPIED:
        src, dst = REPO_ROOT / entry, work / entry
        if src.is_dir():
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst, ignore=_IGNORE)
        else:
            shutil.copy2(src, dst)


def _prepare(name: str, module: str, tests: list[str], timeout: float, resume: bool,
             retest: bool = False) -> Path:
    """The copy of the project, its cosmic-ray config and an initialised session."""
    work = SCRATCH / name
    session = work / "session.sqlite"
    stamp = work / "module.sha256"
    source = REPO_ROOT / module
    if resume and session.exists() and stamp.exists() and stamp.read_text() == _digest(source):
        # The session's mutation positions still match; a run stopped mid-mutant leaves that
        # mutant on disk, so the module itself is restored from the repository. The rest of the
        # copy (the other modules, the tests) is taken afresh too: new tests are what a resumed
        # run is often for, and they may need other modules' fixes made since the session began.
        _copy_project(work)
        if retest:
            _forget_survivors(work)
        return work
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    _copy_project(work)
    for entry in REPO_ROOT.iterdir():
        if entry.name not in COPIED and entry.name not in NOT_LINKED:
            (work / entry.name).symlink_to(entry)
    # The tests find ../shared/data relative to the project root.
    shared = REPO_ROOT.parent / "shared"
    if shared.exists() and not (SCRATCH / "shared").exists():
        (SCRATCH / "shared").symlink_to(shared)
    stamp.write_text(_digest(source))

    command = [PYTHON, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not gui",
               *tests]
    (work / "cosmic-ray.toml").write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(module)}\n"
        f"timeout = {float(timeout)}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(shlex.join(command))}\n"
        "\n[cosmic-ray.distributor]\n"
        'name = "local"\n')
    subprocess.run([*COSMIC_RAY, "init", "cosmic-ray.toml", "session.sqlite"], cwd=work,
                   env=_env(work), check=True)
    _skip_annotations(work, module)
    return work


def _forget_survivors(work: Path) -> None:
    """Make the session's survivors pending again, to test them against new tests."""
    from cosmic_ray.work_db import use_db

    with use_db(str(work / "session.sqlite")) as db:
        survived = [job_id for job_id, result in db.results if result.test_outcome == "survived"]
    with sqlite3.connect(work / "session.sqlite") as con:  # WorkDB has no way to drop a result
        con.executemany("DELETE FROM work_results WHERE job_id = ?", [(j,) for j in survived])
    # Tested again first: a run cut short must not leave earlier survivors out of the score.
    retest = work / "retest.json"
    earlier = json.loads(retest.read_text()) if retest.exists() else []
    retest.write_text(json.dumps(sorted(set(earlier) | set(survived))))


def _annotation_spans(tree: ast.Module) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    spans = []
    for node in ast.walk(tree):
        for ann in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if isinstance(ann, ast.expr):
                spans.append(((ann.lineno, ann.col_offset), (ann.end_lineno, ann.end_col_offset)))
    return spans


def _skip_annotations(work: Path, module: str) -> None:
    """Mark mutants inside annotations as skipped when the module never evaluates them.

    Under ``from __future__ import annotations`` an annotation is a string nobody evaluates
    (lesionview does not call ``get_type_hints`` on these functions), so ``int | None`` ->
    ``int // None`` is equivalent by construction; cosmic-ray has no filter for that, and each
    such mutant would cost a full test run. cosmic-ray's own filters mark jobs the same way.
    """
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    tree = ast.parse((work / module).read_text())
    future = any(isinstance(n, ast.ImportFrom) and n.module == "__future__"
                 and any(a.name == "annotations" for a in n.names) for n in tree.body)
    if not future:
        return
    spans = _annotation_spans(tree)
    with use_db(str(work / "session.sqlite")) as db:
        skipped = [item.job_id for item in db.pending_work_items
                   if all(any(lo <= tuple(m.start_pos) and tuple(m.end_pos) <= hi
                              for lo, hi in spans) for m in item.mutations)]
        if skipped:
            db.set_multiple_results(skipped, WorkResult(
                output="skipped: inside an annotation (from __future__ import annotations)",
                worker_outcome=WorkerOutcome.SKIPPED))


def _env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(work / "src"), str(work / "plugins"), str(work / "tests")]
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def _check_copy(work: Path, module: str) -> None:
    """The copy is what the tests import. (That its tests pass unmutated is checked by the
    coverage run before any mutant, see ``_tests_by_line``.)"""
    dotted = ".".join(Path(module).with_suffix("").parts[1:])
    where = subprocess.run([PYTHON, "-c", f"import {dotted} as m; print(m.__file__)"],
                           cwd=work, env=_env(work), capture_output=True, text=True, check=True)
    if not Path(where.stdout.strip()).resolve().is_relative_to(work.resolve()):
        sys.exit(f"{dotted} imports from {where.stdout.strip()}, not from the copy in {work}")


# Imported once in the parent and inherited by every forked test run: a fresh interpreter per
# mutant (cosmic-ray's "local" distributor) spends ~2.5 s of each run importing these. lesionview
# itself is never imported here, so each run imports the mutated copy.
_PRELOAD = ("numpy", "scipy.ndimage", "scipy.spatial", "scipy.interpolate", "scipy.optimize",
            "skimage.measure", "skimage.morphology", "skimage.segmentation", "SimpleITK",
            "nibabel", "pydicom", "highdicom", "pydantic", "typer", "rich", "hypothesis",
            "pytest", "pytestqt.plugin", "_hypothesis_pytestplugin", "napari.utils._testsupport",
            "npe2._pytest_plugin", "napari_plugin_engine._testsupport",
            "platformdirs.pytest_plugin", "PIL.Image", "matplotlib")


def _workers(work: Path, count: int) -> list[Path]:
    """One copy of the project per parallel test run: each run has its mutant on disk, so tests
    that start a subprocess (the CLI) see the mutant too."""
    copies = [work]
    for i in range(1, count):
        copy = work.parent / f"{work.name}.worker{i}"
        if copy.exists():
            shutil.rmtree(copy)
        copy.mkdir()
        for entry in work.iterdir():
            if entry.name.startswith("session.sqlite"):
                continue
            if entry.is_symlink():
                (copy / entry.name).symlink_to(os.readlink(entry))
            elif entry.is_dir():
                shutil.copytree(entry, copy / entry.name, symlinks=True)
            else:
                shutil.copy2(entry, copy / entry.name)
        copies.append(copy)
    return copies


def _tests_by_line(work: Path, module: str, tests: list[str]) -> dict[int, list[str]]:
    """For each line of the module, the tests that run it (pytest node ids), from one run of the
    test files under coverage with per-test contexts (pytest-cov ``--cov-context=test``).

    A mutant then runs only the tests that reach its line, as mutmut does: a survivor costs
    those tests instead of every file. A line run only at import (``def``, constants, module
    level) maps to ``[""]``, meaning every test. A line no test reaches is missing.
    """
    from coverage import CoverageData

    data_file = work / ".coverage.mutation"
    data_file.unlink(missing_ok=True)
    env = _env(work) | {"COVERAGE_FILE": str(data_file)}
    # A directory, not a dotted name: coverage would import a package named to it ahead of pytest.
    run = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not gui",
                          f"--cov={Path(module).parent}", "--cov-context=test", "--cov-report=",
                          *tests],
                         cwd=work, env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        sys.exit(f"the tests fail on the unmutated copy in {work}:\n{run.stdout[-3000:]}")
    data = CoverageData(basename=str(data_file))
    data.read()
    (measured,) = [f for f in data.measured_files() if Path(f).resolve() == (work / module).resolve()]
    by_line: dict[int, list[str]] = {}
    for line, contexts in data.contexts_by_lineno(measured).items():
        ids = sorted({c.split("|")[0] for c in contexts})
        by_line[line] = [""] if "" in ids else ids
    return by_line


@dataclass(frozen=True)
class _Statement:
    start: int          # first line, decorators included
    end: int
    at_import: bool     # runs at import: a ``def``/``class`` header, or code outside any function


def _statements(tree: ast.Module) -> list[_Statement]:
    """Every statement of the module, innermost last among those sharing a span."""
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        in_function = any(f.lineno <= start and end <= (f.end_lineno or f.lineno) for f in functions)
        header = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        out.append(_Statement(start, end, header or not in_function))
    return out


def _selection(by_line: dict[int, list[str]], statements: list[_Statement], mutation,
               tests: list[str]) -> list[str] | None:
    """The tests to run for a mutation (node ids, or the test files), None when no test reaches it.

    Coverage records a multi-line statement under some of its lines only, so the mutation's
    whole innermost statement is looked up; a ``def`` or ``class`` line runs at import (every
    test). Module-level code (imports, constants) also runs at import.
    """
    first, last = mutation.start_pos[0], mutation.end_pos[0]
    holding = [st for st in statements if st.start <= first and last <= st.end]
    if not holding:
        return tests
    st = min(reversed(holding), key=lambda st: st.end - st.start)  # the innermost: walked last
    if st.at_import:
        return tests
    reached = [by_line[line] for line in range(st.start, st.end + 1) if line in by_line]
    if not reached:
        return None
    ids = {i for r in reached for i in r}
    if "" in ids:
        return tests
    # In the order of the module's test files (its own contract tests first), then by node id.
    rank = {path: k for k, path in enumerate(tests)}
    return sorted(ids, key=lambda i: (rank.get(i.split("::")[0], len(tests)), i))


def _exec_forked(work: Path, module: str, tests: list[str], timeout: float, workers: int,
                 deadline: float | None) -> bool:
    """Run the pending mutants as cosmic-ray's ``exec`` would, in forks of a warm interpreter.

    Hand-written because cosmic-ray's distributors start a new interpreter per mutant and write
    every mutant into the one module file, so runs can be neither warm nor parallel. The mutation
    itself, the outcomes and the session database are cosmic-ray's own (``mutate_code``,
    ``WorkResult``, ``WorkDB``), so ``cosmic-ray dump`` and the table read the same results.
    Returns False when the budget ran out first.
    """
    import importlib

    from cosmic_ray.mutating import _make_diff, mutate_code
    from cosmic_ray.plugins import get_operator
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
        os.environ.setdefault(var, "1")  # parallel runs share the CPUs; thread pools and fork mix badly
    for name in _PRELOAD:
        with contextlib.suppress(ImportError):  # a missing optional module only costs speed
            importlib.import_module(name)
    assert not any(m == "lesionview" or m.startswith("lesionview.") for m in sys.modules)
    sys.dont_write_bytecode = True
    args = ["-x", "-q", "-p", "no:cacheprovider", "-m", "not gui"]
    by_line = _tests_by_line(work, module, tests)
    original = (work / module).read_text()
    statements = _statements(ast.parse(original))
    copies = _workers(work, workers)
    _check_collect(copies[0], [*args, "--collect-only", *tests])
    with use_db(str(work / "session.sqlite")) as db:
        # In a seeded random order, so that a run cut short by --budget has tested a uniform
        # sample of the module (the table gives the score's 95 % interval), not its first lines.
        pending = sorted(db.pending_work_items, key=lambda item: item.job_id)
        random.Random(16).shuffle(pending)
        retest_file = work / "retest.json"
        retest = set(json.loads(retest_file.read_text())) if retest_file.exists() else set()
        pending.sort(key=lambda item: item.job_id not in retest)  # stable: survivors to retest first
        running: dict[int, tuple[Path, str, str, float, Path]] = {}
        idle = list(copies)
        while pending or running:
            if deadline is not None and time.monotonic() >= deadline:
                for pid, (copy, *_rest) in running.items():
                    _end(pid)
                    (copy / module).write_text(original)
                return False
            while pending and idle:
                item = pending.pop(0)
                (mutation,) = item.mutations
                operator = get_operator(mutation.operator_name)(**(mutation.operator_args or {}))
                try:
                    mutated = mutate_code(original, operator, mutation.occurrence)
                except Exception:  # noqa: BLE001 - cosmic-ray's own operator failed on this code
                    # (ExceptionReplacer on some ``except`` clauses): no mutant, counted apart.
                    db.set_result(item.job_id, WorkResult(
                        output=traceback.format_exc(), worker_outcome=WorkerOutcome.EXCEPTION,
                        test_outcome=TestOutcome.INCOMPETENT))
                    continue
                if mutated is None:
                    db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.NO_TEST))
                    continue
                diff = "\n".join(_make_diff(original, mutated, Path(module)))
                selected = _selection(by_line, statements, mutation, tests)
                if selected is None:  # no test runs this line: the mutant survives unseen
                    db.set_result(item.job_id, WorkResult(
                        output="survived: no test runs this line", diff=diff,
                        worker_outcome=WorkerOutcome.NORMAL, test_outcome=TestOutcome.SURVIVED))
                    continue
                copy = idle.pop()
                (copy / module).write_text(mutated)
                log = copy / "mutant.log"
                pid = os.fork()
                if pid == 0:  # the test run
                    _run_tests_in_child(copy, [*args, *selected], log)
                running[pid] = (copy, item.job_id, diff, time.monotonic(), log)
            time.sleep(0.05)
            for pid, (copy, job_id, diff, started, log) in list(running.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                timed_out = not done and time.monotonic() - started > timeout
                if not done and not timed_out:
                    continue
                if timed_out:
                    _end(pid)
                output = "timeout" if timed_out else log.read_text(errors="replace")
                survived = done and os.waitstatus_to_exitcode(status) == 0
                db.set_result(job_id, WorkResult(
                    output=output, diff=diff, worker_outcome=WorkerOutcome.NORMAL,
                    test_outcome=TestOutcome.SURVIVED if survived else TestOutcome.KILLED))
                (copy / module).write_text(original)
                del running[pid]
                idle.append(copy)
    return True


def _check_collect(copy: Path, args: list[str]) -> None:
    """The unmutated tests must import in a forked run as they do in the coverage run, or every
    mutant would count as killed by the import error."""
    log = copy / "collect.log"
    pid = os.fork()
    if pid == 0:
        _run_tests_in_child(copy, args, log)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the unmutated tests do not collect in {copy}:\n{log.read_text(errors='replace')[-3000:]}")


def _run_tests_in_child(copy: Path, args: list[str], log: Path) -> None:
    """In a forked child: run pytest on the copy and exit with its status; never returns."""
    status = 70
    try:
        os.setsid()  # its own process group, so a timeout ends what it started too
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.chdir(copy)
        for key, value in _env(copy).items():
            os.environ[key] = value
        # As ``python -m pytest`` run in the copy has them: the project root (tests import
        # ``benchmarks``), then the code and the tests.
        sys.path[:0] = [str(copy), str(copy / "src"), str(copy / "plugins"), str(copy / "tests")]
        import pytest

        status = int(pytest.main(args))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _end(pid: int) -> None:
    """Kill a forked test run and everything it started, and reap it."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _results(work: Path) -> list[tuple[dict, dict | None]]:
    out = subprocess.run([*COSMIC_RAY, "dump", "session.sqlite"], cwd=work, env=_env(work),
                         capture_output=True, text=True, check=True).stdout
    return [tuple(json.loads(line)) for line in out.splitlines() if line.strip()]


def _tally(rows: list[tuple[dict, dict | None]], retest: set[str]) -> dict[str, int]:
    """Outcome counts; a survivor waiting to be tested again (``retest``) still counts as survived."""
    counts = {"mutants": len(rows), "killed": 0, "survived": 0, "timeout": 0, "not_run": 0,
              "annotation": 0, "error": 0}
    for item, result in rows:
        if result is not None and result["worker_outcome"] == "skipped":
            counts["annotation"] += 1
        elif result is not None and result["worker_outcome"] == "exception":
            counts["error"] += 1
        elif result is None and item["job_id"] in retest:
            counts["survived"] += 1
        elif result is None or result["test_outcome"] is None:
            counts["not_run"] += 1
        elif result["test_outcome"] == "survived":
            counts["survived"] += 1
        elif result["output"] == "timeout":
            counts["timeout"] += 1
        else:  # a failing test, or "incompetent": the mutant did not even import
            counts["killed"] += 1
    return counts


def _wilson(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of the proportion k/n."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"targets (default: all): {', '.join(TARGETS)}")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds one mutant's tests may take before it counts as a timeout")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds for the whole run; mutants left over count as 'not run'")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="mutants tested at a time, each in its own copy (default: one per CPU)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the sessions in mutants/ instead of starting afresh")
    parser.add_argument("--retest-survivors", action="store_true",
                        help="with --resume: test the survivors again (after new tests)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    deadline = None if args.budget is None else time.monotonic() + args.budget

    table = []
    survivors = []
    for name in args.names or list(TARGETS):
        module, tests = TARGETS[name]
        work = _prepare(name, module, tests, args.timeout, args.resume, args.retest_survivors)
        _check_copy(work, module)
        if deadline is None or time.monotonic() < deadline:
            _exec_forked(work, module, tests, args.timeout, max(1, args.workers), deadline)
        rows = _results(work)
        retest = work / "retest.json"
        table.append((module, _tally(rows, set(json.loads(retest.read_text())) if retest.exists() else set())))
        survivors += [(module, result["diff"]) for _, result in rows
                      if result is not None and result["test_outcome"] == "survived"]

    header = f"{'module':<42} {'mutants':>7} {'annot.':>6} {'error':>5} {'killed':>6} " \
             f"{'survived':>8} {'timeout':>7} {'not run':>7} {'score %':>7}"
    print(header)
    print("-" * len(header))
    for module, c in table:
        run = c["killed"] + c["survived"] + c["timeout"]
        score = f"{100 * (c['killed'] + c['timeout']) / run:.1f}" if run else "-"
        if run and c["not_run"]:
            lo, hi = _wilson(c["killed"] + c["timeout"], run)
            score += f" (sample of {run}: 95 % interval {100 * lo:.1f}-{100 * hi:.1f})"
        print(f"{module:<42} {c['mutants']:>7} {c['annotation']:>6} {c['error']:>5} "
              f"{c['killed']:>6} {c['survived']:>8} {c['timeout']:>7} {c['not_run']:>7} {score:>7}")
    print("annot.: inside a type annotation, skipped as equivalent; error: cosmic-ray could not "
          "make the mutant (not counted)")
    for module, diff in survivors:
        print(f"\nSURVIVED in {module}:\n{diff}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
