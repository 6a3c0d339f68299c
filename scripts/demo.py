"""`make demo`: run lesionview on the bundled twin-lesion phantom.

Lists the sample's series with ``lesionview info``, then opens it in napari when a display is
present. Without a display it renders the same view under Xvfb (when installed) and writes a
screenshot into ``demo_output/``, saying where.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "twin"
OUT = ROOT / "demo_output"


def _series_paths() -> list[Path]:
    dicom = SAMPLE / "dicom"
    return sorted(p for p in dicom.iterdir() if p.is_dir()) if dicom.is_dir() else []


def main() -> int:
    paths = _series_paths()
    if not paths:
        print(f"no sample DICOM under {SAMPLE / 'dicom'}: run `make sample` first", file=sys.stderr)
        return 1
    cli = [sys.executable, "-m", "lesionview", "info"]
    code = subprocess.call([*cli, str(SAMPLE / "dicom")])
    if code:
        return code
    if "--headless" in sys.argv:
        return _screenshot(paths)
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        import napari  # noqa: PLC0415

        viewer = napari.Viewer(title="lesionview demo: twin lesions")
        for p in paths:
            viewer.open(str(p), plugin="lesionview")
        napari.run()
        return 0
    if shutil.which("xvfb-run"):
        print("no display: rendering the napari view under Xvfb instead")
        return subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24",
                                sys.executable, __file__, "--headless"])
    print("no display and no xvfb-run: skipped the napari view (install xvfb to get a screenshot)")
    return 0


def _screenshot(paths: list[Path]) -> int:
    import napari  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    viewer = napari.Viewer(show=True)
    for p in paths:
        viewer.open(str(p), plugin="lesionview")
    viewer.grid.enabled = True
    OUT.mkdir(exist_ok=True)
    target = OUT / "napari_twin.png"
    Image.fromarray(viewer.screenshot(canvas_only=False, flash=False)).save(target)
    viewer.close()
    print(f"screenshot written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
