"""Segmentation tools: click-to-mask latency, proposals over the whole cord, edema from a lesion.

Targets (issue 4): grow_lesion < 150 ms per click (median) on a 512 x 512 x 20 sagittal stack;
propose_lesions < 1 s over the whole cord. Issue 11: a click < 50 ms, the cord from clicks and the
edema each < 300 ms.

How it is measured
------------------
* The twin phantom is rendered (``lesionview.phantom.render``, T1C and T2, with noise) on a
  512 x 512 x 20 sagittal grid at 0.5 x 0.5 x 3 mm (256 x 256 x 60 mm), stored as DICOM readers
  build it (slices left to right, rows head to feet, columns front to back). Truth masks come
  from ``render_maps`` on the same grid; the cord region is the truth cord widened by 1 mm.
* Everything runs in this process after one warm-up call of each tool (imports, caches).
* Clicks: 20 seeds, 10 in each lesion, drawn at random from the truth lesion eroded by one
  voxel; each row gives the median and the worst of the 20 single calls (``time.perf_counter``),
  and the lowest Dice against the truth among them, per lesion. On this grid the 3 mm lesion
  lies 1 mm off a slice centre: its voxel-centre truth keeps 12 voxels of one slice while the
  3 mm slice profile puts half its signal in the next slice, so no threshold matches that truth
  (Dice ~0.63); on the sample grid, where it is centred in a slice, Dice is 0.95.
* Proposals, cord and edema: median of 5 calls. The cord from 5 clicks: the phantom's cord
  centre at 5 heights spread over the imaged cord (``lesionview.phantom.landmarks`` gives the
  sample's; here the truth cord's centroid per 10 % of its height).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from scipy import ndimage

SHAPE = (20, 512, 512)
SPACING = (3.0, 0.5, 0.5)
N_SEEDS = 20
REPEATS = 5


def geometry():
    from lesionview.geometry import Geometry
    from lesionview.phantom import CASES

    # As lesionview.phantom.sagittal_geometry: axis 0 towards the right, rows inferior, columns posterior.
    direction = np.array([[-1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]).T
    centre = np.mean([lesion.centre for lesion in CASES["twin"].lesions], axis=0)
    half = (np.array(SHAPE) - 1) / 2 * np.array(SPACING)
    origin = centre - direction @ half
    return Geometry(SHAPE, SPACING, tuple(origin), direction)


def _dice(a, b) -> float:
    return 2.0 * np.count_nonzero(a & b) / max(np.count_nonzero(a) + np.count_nonzero(b), 1)


def _times(fn, repeats):
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - start)
    return out, result


def _cord_clicks(cord: np.ndarray, g) -> np.ndarray:
    """5 points on the cord's centre, spread between 10 % and 90 % of its height (LPS mm)."""
    world = g.index_to_world(np.argwhere(cord))
    height = world[:, 2]
    lo, hi = np.percentile(height, [10, 90])
    clicks = []
    for z in np.linspace(lo, hi, 5):
        near = world[np.abs(height - z) < 1.0]
        clicks.append(near.mean(axis=0))
    return np.array(clicks)


def run(workdir: Path) -> list[dict]:
    from lesionview.phantom import render, render_maps
    from lesionview.segment._stats import dilate_mm
    from lesionview.segment.cord import segment_cord
    from lesionview.segment.edema import grow_edema
    from lesionview.segment.lesion import grow_lesion, propose_lesions

    g = geometry()
    start = time.perf_counter()
    t1c = render("twin", g, "T1C").array
    t2 = render("twin", g, "T2").array
    maps = render_maps("twin", g)
    render_s = time.perf_counter() - start
    lesion = maps.lesion_labels
    cord = dilate_mm(maps.cord != 0, g.spacing, 1.0)
    edema = maps.edema != 0

    rng = np.random.default_rng(0)
    seeds = []
    for label in (1, 2):
        truth = lesion == label
        pts = np.argwhere(ndimage.binary_erosion(truth) if ndimage.binary_erosion(truth).any() else truth)
        seeds += [(label, p) for p in pts[rng.choice(len(pts), N_SEEDS // 2, replace=len(pts) < N_SEEDS // 2)]]

    grow_lesion(t1c, g, g.index_to_world(seeds[0][1]), cord_region=cord)  # warm-up
    rows = []
    note_grid = f"{'x'.join(map(str, SHAPE))} at {'x'.join(f'{s:g}' for s in SPACING)} mm, rendered in {render_s:.1f} s"
    for name, region in (("with cord region", cord), ("no cord region", None)):
        times, dices = [], {1: [], 2: []}
        for label, p in seeds:
            t, seg = _times(lambda p=p, region=region: grow_lesion(t1c, g, g.index_to_world(p),
                                                                   cord_region=region), 1)
            times.append(t[0])
            dices[label].append(_dice(seg.mask, lesion == label))
        rows.append({"name": f"grow_lesion, one click ({name})", "median s": float(np.median(times)),
                     "worst s": float(np.max(times)),
                     "note": f"{len(seeds)} seeds (10 per lesion); lowest Dice lesion 1 (3 mm) "
                             f"{min(dices[1]):.3f}, lesion 2 (11 mm) {min(dices[2]):.3f}; {note_grid}"})

    propose_lesions(t1c, g, cord)  # warm-up
    times, seg = _times(lambda: propose_lesions(t1c, g, cord), REPEATS)
    cands = seg.details["candidates"]
    sizes = ", ".join(f"{c['volume_mm3']:.0f} mm3" for c in cands)
    rows.append({"name": "propose_lesions, whole cord", "median s": float(np.median(times)),
                 "worst s": float(np.max(times)),
                 "note": f"{len(cands)} candidates ({sizes}); "
                         f"cord region {np.count_nonzero(cord)} voxels"})

    clicks = _cord_clicks(maps.cord != 0, g)
    heights = g.index_to_world(np.argwhere(np.ones(g.shape, bool)))[:, 2].reshape(g.shape)
    between = (heights >= clicks[:, 2].min()) & (heights <= clicks[:, 2].max())
    segment_cord(t2, g, clicks)  # warm-up
    times, seg = _times(lambda: segment_cord(t2, g, clicks), REPEATS)
    rows.append({"name": "segment_cord from 5 clicks", "median s": float(np.median(times)),
                 "worst s": float(np.max(times)),
                 "note": f"Dice {_dice(seg.mask & between, maps.cord.astype(bool) & between):.3f} against the "
                         f"rendered cord between the first and last click {seg.reason}".strip()})
    grow_edema(t2, g, lesion_mask=lesion > 0, cord_region=maps.cord)  # warm-up
    times, seg = _times(lambda: grow_edema(t2, g, lesion_mask=lesion > 0, cord_region=maps.cord), REPEATS)
    rows.append({"name": "grow_edema from the lesion mask", "median s": float(np.median(times)),
                 "worst s": float(np.max(times)),
                 "note": f"Dice {_dice(seg.mask, edema):.3f} against the rendered edema; "
                         f"{seg.volume_mm3:.0f} mm3"})
    click = g.index_to_world(np.argwhere(ndimage.binary_erosion(edema) & (lesion == 0))[0])
    times, seg = _times(lambda: grow_edema(t2, g, seed_world_mm=click, cord_region=maps.cord), REPEATS)
    rows.append({"name": "grow_edema from a click", "median s": float(np.median(times)),
                 "worst s": float(np.max(times)), "note": f"Dice {_dice(seg.mask, edema):.3f}"})
    return rows


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lesionview-bench-segment-") as tmp:
        table = run(Path(tmp))
    print(" | ".join(table[0]))
    for row in table:
        print(" | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()))
