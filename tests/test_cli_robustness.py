"""The command line when things go wrong around it: outputs that cannot be written, file names
that are not UTF-8, Ctrl-C at any moment, and bugs. Never a traceback: exit 2 with one line for
what the user must fix, 70 for a bug in lesionview, 130 for Ctrl-C."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import need

import lesionview
from lesionview.errors import OutputError
from lesionview.io.atomic import atomic_path, check_writable_folder

ROOT = Path(__file__).resolve().parents[1]
#: Where lesionview's own source is: a traceback through it is ours.
PACKAGE = str(Path(lesionview.__file__).parent)
TWIN = ROOT / "sample_data" / "twin"
EXIT_BAD_INPUT, EXIT_SOFTWARE, EXIT_INTERRUPTED = 2, 70, 130
#: The installed console script beside this Python (``pip install -e .`` puts it there).
SCRIPT = Path(sys.executable).parent / "lesionview"
TIMEOUT = 300  # per subprocess: generous, two shared cores


def lesionview(*args, env: dict | None = None, prelude: str | None = None) -> subprocess.CompletedProcess:
    """``python -m lesionview ARGS``, or ARGS run by ``main()`` after ``prelude`` (to plant a fault)."""
    if prelude is None:
        cmd = [sys.executable, "-m", "lesionview"]
    else:
        cmd = [sys.executable, "-c", f"{prelude}\nfrom lesionview.cli import main\nmain()"]
    return subprocess.run([*cmd, *map(os.fspath, args)], check=False, capture_output=True, text=True,
                          timeout=TIMEOUT, env=None if env is None else {**os.environ, **env})


def one_line(text: str) -> str:
    return " ".join(text.split())


def assert_refused(res: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2, one line on stderr holding every word, no traceback."""
    assert res.returncode == EXIT_BAD_INPUT, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    for word in words:
        assert word in res.stderr, f"{word!r} not in: {res.stderr}"


def leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic writes left in ``folder``."""
    return sorted(p.name for p in folder.rglob("*") if ".part" in p.name) if folder.is_dir() else []


@pytest.fixture(scope="module")
def twin() -> Path:
    need((TWIN / "truth.json").is_file(), "sample_data/twin not generated (make sample)")
    return TWIN


def measure_args(twin: Path, out: Path) -> list:
    return ["measure", twin / "lesion.nii.gz", "--image", twin / "t1c.nii.gz",
            "--edema", twin / "edema.nii.gz", "--cord", twin / "cord.nii.gz",
            "--levels", twin / "landmarks.csv", "--out", out]


@pytest.fixture
def cli_in_process(capsys):
    """``main(argv)`` in this process; returns (exit code, stdout, stderr).

    main() installs a SIGINT handler and an unraisable hook for the life of a process; they are
    put back for the test session.
    """
    from lesionview.cli import main

    def run(argv):
        previous = signal.getsignal(signal.SIGINT), sys.unraisablehook
        try:
            with pytest.raises(SystemExit) as exited:
                main([os.fspath(a) for a in argv])
        finally:
            signal.signal(signal.SIGINT, previous[0])
            sys.unraisablehook = previous[1]
        out, err = capsys.readouterr()
        return exited.value.code, out, err

    return run


# --- Outputs: a file in the way, read-only, full disk, no permission --------------------------

def test_out_under_a_regular_file_is_refused_before_loading(twin, tmp_path):
    blocker = tmp_path / "some_file.txt"
    blocker.write_text("keep me")
    res = lesionview("measure", twin / "lesion.nii.gz", "--out", blocker / "sub")
    assert_refused(res, str(blocker), "is a file")
    assert res.stdout == "", "refused before the measurement, not after"
    assert blocker.read_text() == "keep me"


def unprivileged() -> list[str]:
    """A command prefix that runs without root's power to write through permission bits."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root writes through permission bits, and setpriv (util-linux) is not there to "
                    "drop them; the in-process tests cover this path")
    prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import lesionview.cli"], check=False,
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"user 65534 cannot run this Python ({one_line(probe.stderr)[-200:]}); the "
                    "in-process tests cover this path")
    return prefix


@pytest.mark.parametrize("exists", [False, True])
def test_out_folder_without_write_permission_is_refused_before_loading(twin, exists):
    prefix = unprivileged()
    base = Path(tempfile.mkdtemp())  # not under pytest's tmp_path, which only its owner may enter
    try:
        base.chmod(0o755)
        mask = Path(shutil.copy(twin / "lesion.nii.gz", base / "lesion.nii.gz"))
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        out = locked if exists else locked / "out"
        res = subprocess.run([*prefix, sys.executable, "-m", "lesionview", "measure", mask, "--out", out],
                             check=False, capture_output=True, text=True, timeout=TIMEOUT)
        assert_refused(res, str(out), "permission denied")
        assert res.stdout == "", "refused before the measurement, not after"
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def small_tmpfs(tmp_path_factory):
    """Run lesionview on a 64 KiB tmpfs in a private user + mount namespace (``unshare -rm``).

    ``run(setup, *args)``: ``setup`` is shell run on the mounted tmpfs (``$0``) before
    ``python -m lesionview ARGS`` (``{mnt}`` in ARGS is the mount point); what is left on the
    tmpfs afterwards (it vanishes with the namespace) is listed on the last line of stdout.
    """
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) not installed: cannot mount a tmpfs to fill or make read-only")
    probe = tmp_path_factory.mktemp("probe")
    res = subprocess.run(["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0"', probe],
                         check=False, capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        pytest.skip("this machine does not allow a tmpfs mount in an unprivileged mount namespace "
                    f"(unshare -rm: {one_line(res.stderr) or res.returncode}); the in-process tests "
                    "cover the same paths")

    def run(setup: str, *args) -> tuple[subprocess.CompletedProcess, list[str]]:
        mnt = tmp_path_factory.mktemp("tmpfs")
        script = (f'mount -t tmpfs -o size=64k tmpfs "$0" && {setup} || exit 99\n'
                  '"$@"; rc=$?\n'
                  'printf "\\nleft:"; cd "$0" && find . -mindepth 1 | sort | tr "\\n" " "; exit $rc')
        args = [str(a).replace("{mnt}", str(mnt)) for a in args]
        res = subprocess.run(["unshare", "-rm", "sh", "-c", script, mnt, sys.executable, "-m", "lesionview",
                              *args], check=False, capture_output=True, text=True, timeout=TIMEOUT)
        assert res.returncode != 99, res.stderr
        body, _, left = res.stdout.rpartition("\nleft:")
        return subprocess.CompletedProcess(res.args, res.returncode, body, res.stderr), left.split()

    return run


@pytest.mark.parametrize("out", ["{mnt}/results", "{mnt}/existing"])
def test_read_only_file_system_is_refused_before_loading(twin, small_tmpfs, out):
    res, left = small_tmpfs('mkdir "$0/existing" && mount -o remount,ro "$0"', *measure_args(twin, out))
    assert_refused(res, "read-only", "/results" if "results" in out else "/existing")
    assert res.stdout == "", "refused before the measurement, not after"
    assert left == ["./existing"]


def test_full_disk_is_a_clean_error_and_leaves_nothing(twin, small_tmpfs):
    res, left = small_tmpfs('(cat /dev/zero > "$0/fill" 2>/dev/null; true)',
                            *measure_args(twin, "{mnt}/out"))
    assert_refused(res, "disk is full", "measurements.")
    assert left in (["./fill"], ["./fill", "./out"]), left  # no temporary file, no half pair


def test_atomic_path_turns_a_full_disk_during_the_write_into_output_error(tmp_path):
    target = tmp_path / "out" / "measurements.json"
    with pytest.raises(OutputError, match="disk is full") as refused, atomic_path(target) as tmp:
        tmp.write_text("{}")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(target) in refused.value.message
    assert sorted(p.name for p in target.parent.iterdir()) == []


@pytest.mark.parametrize("cause, words", [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"),
                                          (errno.EACCES, "permission denied"),
                                          (errno.EDQUOT, "quota")])
@pytest.mark.parametrize("where", ["mkdir", "open", "replace"])
def test_atomic_path_turns_every_os_error_into_output_error(tmp_path, monkeypatch, cause, words, where):
    target = tmp_path / "out" / "measurements.csv"

    def fail(*args, **kwargs):
        raise OSError(cause, os.strerror(cause))

    monkeypatch.setattr({"mkdir": Path, "open": os, "replace": os}[where], where, fail)
    with pytest.raises(OutputError, match=words) as refused, atomic_path(target) as tmp:
        tmp.write_text("a,b\n")
    monkeypatch.undo()
    assert str(target) in refused.value.message and "\n" not in refused.value.message
    assert not target.exists() and leftovers(tmp_path) == []


def test_atomic_path_under_a_file_names_that_file(tmp_path):
    blocker = tmp_path / "some_file.txt"
    blocker.write_text("keep me")
    with pytest.raises(OutputError, match="is a file") as refused, \
            atomic_path(blocker / "sub" / "measurements.json") as tmp:
        tmp.write_text("{}")
    assert refused.value.path == str(blocker)
    assert blocker.read_text() == "keep me"


def test_atomic_path_lets_ctrl_c_through_and_removes_its_temporary_file(tmp_path):
    target = tmp_path / "image.nii.gz"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        assert tmp.name.endswith(".nii.gz")  # writers pick the format from the name
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_check_writable_folder_sees_read_only_mounts_permissions_and_files(tmp_path, monkeypatch):
    check_writable_folder(tmp_path / "new" / "deeper")  # a writable ancestor: fine
    blocker = tmp_path / "f.txt"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="is a file") as refused:
        check_writable_folder(blocker / "out")
    assert refused.value.path == str(blocker)

    real_statvfs = os.statvfs

    class ReadOnly:
        def __init__(self, path):
            self.f_flag = real_statvfs(path).f_flag | os.ST_RDONLY

    monkeypatch.setattr(os, "statvfs", ReadOnly)
    with pytest.raises(OutputError, match="read-only"):
        check_writable_folder(tmp_path / "out")
    monkeypatch.setattr(os, "statvfs", real_statvfs)
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(OutputError, match="permission denied"):
        check_writable_folder(tmp_path / "out")


def test_cli_full_disk_in_process_exits_2_and_leaves_nothing(twin, tmp_path, monkeypatch, cli_in_process):
    out = tmp_path / "out"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    code, _, stderr = cli_in_process(measure_args(twin, out))
    monkeypatch.undo()
    assert code == EXIT_BAD_INPUT, stderr
    assert "disk is full" in stderr and "measurements.json" in one_line(stderr)
    assert "Traceback" not in stderr
    assert sorted(p.name for p in out.iterdir()) == []


def test_cli_read_only_in_process_is_refused_before_loading(twin, tmp_path, monkeypatch, cli_in_process):
    import lesionview.cli.measure as measure_cli

    real_statvfs = os.statvfs

    class ReadOnly:
        def __init__(self, path):
            self.f_flag = real_statvfs(path).f_flag | os.ST_RDONLY

    monkeypatch.setattr(os, "statvfs", ReadOnly)
    monkeypatch.setattr(measure_cli, "load_and_measure", lambda *a, **k: pytest.fail("loaded first"))
    code, _, stderr = cli_in_process(measure_args(twin, tmp_path / "out"))
    assert code == EXIT_BAD_INPUT and "read-only" in stderr, stderr
    assert not (tmp_path / "out").exists()


# --- File names that are not UTF-8 -----------------------------------------------------------

def test_measure_with_non_utf8_file_names_writes_valid_json(twin, tmp_path):
    mask = tmp_path / os.fsdecode(b"les-\xff.nii.gz")
    shutil.copy(twin / "lesion.nii.gz", mask)
    levels = tmp_path / os.fsdecode(b"landmarks-\xfe.csv")
    shutil.copy(twin / "landmarks.csv", levels)
    out = tmp_path / os.fsdecode(b"out-\xfd")
    res = lesionview("measure", mask, "--image", twin / "t1c.nii.gz", "--levels", levels, "--out", out)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "wrote" in res.stdout
    data = json.loads((out / "measurements.json").read_bytes().decode("utf-8"))
    paths = {i["role"]: i["path"] for i in data["inputs"]}
    assert paths["lesions"].endswith("les-\ufffd.nii.gz") and paths["levels"].endswith("landmarks-\ufffd.csv")
    assert (out / "measurements.csv").read_bytes().decode("utf-8")


def test_info_json_with_non_utf8_file_name_is_valid_json(twin, tmp_path):
    mask = tmp_path / os.fsdecode(b"les-\xff.nii.gz")
    shutil.copy(twin / "lesion.nii.gz", mask)
    res = lesionview("info", mask, "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["path"].endswith("les-\ufffd.nii.gz") and len(data["series"]) == 1
    table = lesionview("info", mask)
    assert table.returncode == 0 and "Traceback" not in table.stderr, table.stderr


def test_info_on_a_dicom_folder_with_non_utf8_names(shared_data, tmp_path):
    series = tmp_path / os.fsdecode(b"series-\xff")
    shutil.copytree(shared_data / "dicom" / "sagittal_t1_series", series)
    (series / os.fsdecode(b"notes-\xfe.txt")).write_text("not an image")
    res = lesionview("info", series, "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert len(data["series"]) == 1
    assert "notes-\ufffd.txt" in [Path(i["path"]).name for i in data["ignored"]]
    table = lesionview("info", series)
    assert table.returncode == 0 and "Traceback" not in table.stderr, table.stderr
    assert "notes-\ufffd.txt" in table.stdout


# --- Ctrl-C ----------------------------------------------------------------------------------

def interrupt(cmd: list, delay: float, *, again_after: float | None = None) -> subprocess.CompletedProcess:
    """Start ``cmd``, send SIGINT after ``delay`` seconds (and once more ``again_after`` later)."""
    proc = subprocess.Popen([os.fspath(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(delay)
    for pause in (0.0,) if again_after is None else (0.0, again_after):
        time.sleep(pause)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def assert_interrupted_cleanly(res: subprocess.CompletedProcess, out: Path | None = None) -> str:
    """No traceback, a known exit, no temporary file; returns how the run ended."""
    in_python_init = res.stderr.startswith("Fatal Python error: init_") and "core initialized" in res.stderr
    if (res.stderr.rstrip().endswith("KeyboardInterrupt") or in_python_init) and PACKAGE not in res.stderr:
        # CPython's own start-up (its standard streams, site and its .pth files, runpy), before any
        # line of lesionview runs: no package can catch an interrupt there. Tens of milliseconds;
        # ours is the rest (since the fast start, the earliest moments fall there more often).
        assert "lesionview" not in res.stdout
        return "python start-up"
    assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr, res.stderr
    if out is not None:
        assert leftovers(out) == [], "temporary files left behind"
        names = {p.name for p in out.iterdir()} if out.is_dir() else set()
        assert names != {"measurements.json"}, "a JSON without its CSV"
        if "measurements.json" in names:
            json.loads((out / "measurements.json").read_text())
    if res.returncode == -signal.SIGINT:
        # Killed by the signal itself: before Python installs its handler, after Python removes it
        # at exit (the work done), or by Python re-raising it after our "interrupted" line.
        assert res.stderr.strip() in ("", "interrupted"), res.stderr
        return "killed"
    if res.returncode == 0:
        return "finished"
    assert res.returncode == EXIT_INTERRUPTED, (res.returncode, res.stderr)
    assert res.stderr.strip().splitlines()[-1] == "interrupted", res.stderr
    return "interrupted"


#: Moments per command at which Ctrl-C is sent: a few in `make test`, many in `make fuzz`.
CTRL_C_MOMENTS = int(os.environ.get("LESIONVIEW_CTRL_C_MOMENTS", "8"))


def spread(duration: float, count: int = CTRL_C_MOMENTS) -> list[float]:
    """Delays from 0 to ``duration``: dense at start-up (imports), then even."""
    early = [0.0, 0.005, 0.02, 0.05, 0.1]
    count = max(count, len(early) + 2)
    return early + [duration * k / (count - len(early)) for k in range(1, count - len(early) + 1)]


def timed(cmd: list) -> float:
    start = time.monotonic()
    res = subprocess.run([os.fspath(c) for c in cmd], check=False, capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    return time.monotonic() - start


def test_ctrl_c_during_measure_at_any_moment(twin, tmp_path):
    cmd = [sys.executable, "-m", "lesionview", *measure_args(twin, tmp_path / "reference")]
    ends = []
    for k, delay in enumerate(spread(timed(cmd))):
        out = tmp_path / f"out{k}"
        res = interrupt([*cmd[:-1], out], delay)
        ends.append(assert_interrupted_cleanly(res, out))
    assert "interrupted" in ends, ends


def test_ctrl_c_during_info_on_a_dicom_series_at_any_moment(shared_data):
    cmd = [sys.executable, "-m", "lesionview", "info", shared_data / "dicom" / "sagittal_t1_series"]
    ends = [assert_interrupted_cleanly(interrupt(cmd, delay)) for delay in spread(timed(cmd))]
    assert "interrupted" in ends, ends


def test_ctrl_c_while_the_console_script_imports(shared_data, tmp_path):
    need(SCRIPT.is_file(), f"no console script at {SCRIPT} (pip install -e .)")
    cmd = [SCRIPT, "info", shared_data / "dicom" / "sagittal_t1_series", "--json"]
    ends = [assert_interrupted_cleanly(interrupt(cmd, delay)) for delay in spread(timed(cmd))]
    assert "interrupted" in ends, ends


def test_a_second_ctrl_c_during_cleanup_is_ignored(twin, tmp_path):
    cmd = [sys.executable, "-m", "lesionview", *measure_args(twin, tmp_path / "reference")]
    duration = timed(cmd)
    for k, share in enumerate((0.3, 0.6, 0.9)):
        out = tmp_path / f"out{k}"
        res = interrupt([*cmd[:-1], out], duration * share, again_after=0.02)
        assert_interrupted_cleanly(res, out)


# Deterministic versions: the interrupt is planted at a known place.
_PLANT_INTERRUPT = """
import os, signal, sys, time
import lesionview.report.tabular as tabular  # measure --out writes through write_report

def write_csv(result, path):
    from lesionview.io.atomic import atomic_path
    with atomic_path(path) as tmp:
        tmp.write_text("half")
        try:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C during the write
            time.sleep(30)
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # and again during the cleanup
            time.sleep(0.2)
            print("cleanup went on", flush=True)

tabular.write_csv = write_csv
"""


def test_ctrl_c_during_a_write_and_again_during_cleanup_leaves_nothing(twin, tmp_path):
    out = tmp_path / "out"
    res = lesionview(*measure_args(twin, out), prelude=_PLANT_INTERRUPT)
    assert res.returncode == EXIT_INTERRUPTED, (res.returncode, res.stderr)
    assert res.stderr.strip() == "interrupted" and "cleanup went on" in res.stdout
    assert sorted(p.name for p in out.iterdir()) == [], "no temporary file, no JSON without its CSV"


# --- Bugs: the last resort ---------------------------------------------------------------------

_PLANT_BUG = """
import lesionview.cli.measure as measure_cli

def load_and_measure(*args, **kwargs):
    raise ValueError("planted\\nbug")

measure_cli.load_and_measure = load_and_measure
"""


def test_an_unexpected_exception_is_one_line_and_exit_70(twin, tmp_path):
    res = lesionview(*measure_args(twin, tmp_path / "out"), prelude=_PLANT_BUG)
    assert res.returncode == EXIT_SOFTWARE, res.stderr
    assert "Traceback" not in res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("internal error: ValueError: planted bug — this is a bug in lesionview")
    assert "LESIONVIEW_DEBUG=1" in line


def test_lesionview_debug_shows_the_traceback(twin, tmp_path):
    res = lesionview(*measure_args(twin, tmp_path / "out"), prelude=_PLANT_BUG, env={"LESIONVIEW_DEBUG": "1"})
    assert res.returncode == EXIT_SOFTWARE
    assert "Traceback" in res.stderr and "load_and_measure" in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("internal error: ValueError")


# --- The entry point: light, and click's behaviour kept ---------------------------------------

def test_the_entry_point_imports_nothing_heavy():
    code = ("import sys, lesionview, lesionview.cli\n"
            "print(sorted(m for m in ('typer', 'click', 'rich', 'numpy', 'nibabel', 'pydicom', 'scipy')"
            " if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_help_lists_the_exit_codes():
    res = lesionview("--help")
    assert res.returncode == 0 and "Usage" in res.stdout
    text = one_line(res.stdout)
    for code in ("0 done", "2 bad input", "3 report", "70 internal error", "130 interrupted"):
        assert code in text, text


@pytest.mark.parametrize("args, words", [(["measure"], "Missing argument"),
                                         (["nosuch"], "No such command"),
                                         (["info", "--bogus"], "No such option")])
def test_usage_errors_look_as_click_shows_them(args, words):
    res = lesionview(*args)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    assert "Usage:" in res.stderr and words in res.stderr


def test_no_arguments_prints_the_help():
    res = lesionview()
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    assert "Usage" in res.stdout and "measure" in res.stdout
