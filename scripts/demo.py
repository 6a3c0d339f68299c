"""`make demo`: lesionview's main job on the bundled twin-lesion phantom.

1. ``lesionview info`` lists the sample's DICOM series (role guess, plane, spacing, problems);
2. ``lesionview measure`` measures its lesions and edema against the vertebral landmarks and
   writes ``demo_output/measurements.json`` and ``.csv``;
3. napari opens the T2 and T1 post-contrast series with the lesion and edema masks, on the
   slice through the larger lesion. With a display the viewer stays open; without one the same
   view is rendered under Xvfb (when installed) into ``demo_output/*.png``, saying where.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "sample_data" / "twin"
OUT = ROOT / "demo_output"
T2 = CASE / "dicom" / "02_SAG_T2_TSE"
T1C = CASE / "dicom" / "05_SAG_T1_TSE_C"


def main() -> int:
    if "--headless" in sys.argv:
        return _view(show_window=False)
    missing = [p for p in (T2, T1C, CASE / "lesion.nii.gz") if not p.exists()]
    if missing:
        print(f"sample data missing ({', '.join(map(str, missing))}): run `make sample` first", file=sys.stderr)
        return 1
    cli = [sys.executable, "-m", "lesionview"]
    steps = [
        [*cli, "info", str(CASE / "dicom")],
        [*cli, "measure", str(CASE / "lesion.nii.gz"), "--image", str(T1C), "--edema", str(CASE / "edema.nii.gz"),
         "--cord", str(CASE / "cord.nii.gz"), "--levels", str(CASE / "landmarks.csv"),
         "--out", str(OUT), "--overwrite"],
    ]
    for step in steps:
        print(f"\n$ lesionview {' '.join(step[3:])}", flush=True)
        code = subprocess.call(step)
        if code:
            return code
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return _view(show_window=True)
    if shutil.which("xvfb-run"):
        print("\nno display: rendering the napari view under Xvfb instead", flush=True)
        return subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1400x1000x24",
                                sys.executable, __file__, "--headless"])
    print("\nno display and no xvfb-run: skipped the napari view (install xvfb for screenshots)")
    return 0


def _view(*, show_window: bool) -> int:
    import napari
    from PIL import Image

    from napari_lesionview._space import lps_to_napari

    viewer = napari.Viewer(title="lesionview demo: twin lesions", show=True)
    viewer.window.resize(1400, 1000)
    for path in (T2, T1C, CASE / "edema.nii.gz", CASE / "lesion.nii.gz"):
        viewer.open(str(path), plugin="lesionview")
    t2, t1c, edema, lesions = viewer.layers
    lesions.name, edema.name = "lesions", "edema"
    result = json.loads((OUT / "measurements.json").read_text())
    largest = max(result["lesions"], key=lambda les: les["volume_mm3"])
    # Step the left-right slider to the slice through the larger lesion's centroid.
    viewer.dims.set_point(0, float(lps_to_napari(largest["centroid_lps_mm"])[0]))
    viewer.reset_view()
    if show_window:
        print(f"\n{result['summary']}")
        napari.run()
        return 0
    OUT.mkdir(exist_ok=True)
    shots = {"demo_t2_edema.png": (t2, edema), "demo_t1c_lesions.png": (t1c, lesions)}
    for name, visible in shots.items():
        for layer in viewer.layers:
            layer.visible = layer in visible
        Image.fromarray(viewer.screenshot(canvas_only=False, flash=False)).save(OUT / name)
        print(f"screenshot written to {OUT / name}")
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
