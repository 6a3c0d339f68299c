"""A toy package of segmentation back ends, installed for one test as a site installs a model.

:func:`install_toy_backends` writes a module and a ``*.dist-info`` with an ``entry_points.txt``
into ``tmp_path`` and puts it on ``sys.path``: lesionview finds the back ends through
``importlib.metadata.entry_points``, the real discovery, not a patched one.
"""

from __future__ import annotations

import sys
import textwrap

MODULE = "lesionview_toy_backends"

#: The toy back ends: each entry point and what lesionview should make of it.
ENTRY_POINTS = {
    "toysphere": f"{MODULE}:SphereBackend",          # works: threshold in a 3 mm sphere
    "toybig": f"{MODULE}:BigBackend",                # works, but draws a 24 mm ball (check_lesion refuses it)
    "toyweights": f"{MODULE}:WeightsBackend",        # its weights are missing (a classmethod problem())
    "toylazy": f"{MODULE}:make_lazy_backend",        # a factory; its weights are missing (asked of the instance)
    "toybroken": "lesionview_toy_missing_module:Backend",  # cannot be imported
    "toynumber": f"{MODULE}:NOT_A_BACKEND",          # not a back end
    "toycrash": f"{MODULE}:CrashingBackend",         # fails when it runs
    "classical": f"{MODULE}:SphereBackend",          # a name taken by lesionview's own
}

SOURCE = '''
"""Toy segmentation back ends for lesionview's tests."""

import numpy as np

from lesionview.segment.backends import SegmentationBackend
from lesionview.segment.result import Segmentation

#: Every call: (prompts, target, image roles, mask roles, options).
CALLS = []
#: Every back end made (its class name) and every problem() asked (the class name).
MADE = []
ASKED = []
NOT_A_BACKEND = 42


def ball(geometry, centre, radius_mm):
    """Voxels whose centre lies within radius_mm of centre (LPS mm)."""
    index = np.rint(geometry.world_to_index(centre)).astype(int)
    reach = np.ceil(radius_mm / np.asarray(geometry.spacing)).astype(int)
    box = tuple(slice(max(i - r, 0), min(i + r + 1, n)) for i, r, n in zip(index, reach, geometry.shape))
    voxels = np.argwhere(np.ones([s.stop - s.start for s in box], bool)) + [s.start for s in box]
    near = np.linalg.norm(geometry.index_to_world(voxels) - centre, axis=1) <= radius_mm
    mask = np.zeros(geometry.shape, bool)
    mask[tuple(voxels[near].T)] = True
    return mask


class SphereBackend(SegmentationBackend):
    """Voxels brighter than half-way between the sphere's median and the seed, within 3 mm."""

    description = "threshold in a 3 mm sphere (tests)"
    targets = frozenset({"lesion"})
    radius_mm = 3.0

    def __init__(self):
        MADE.append(type(self).__name__)

    @classmethod
    def problem(cls):
        ASKED.append(cls.__name__)
        return ""

    def segment(self, images, geometry, prompts, target, *, masks, **options):
        CALLS.append((prompts, target, sorted(images), sorted(masks), options))
        image = images["t1c"]
        mask = np.zeros(geometry.shape, bool)
        for prompt in prompts:
            near = ball(geometry, np.asarray(prompt.position_lps), self.radius_mm)
            if not prompt.positive:
                mask &= ~near
                continue
            seed = image[tuple(np.rint(geometry.world_to_index(prompt.position_lps)).astype(int))]
            mask |= near & (image >= 0.5 * (seed + np.median(image[near])))
        return Segmentation(mask, geometry, "", {"radius_mm": self.radius_mm})


class BigBackend(SphereBackend):
    description = "a 24 mm ball (tests)"

    def segment(self, images, geometry, prompts, target, *, masks, **options):
        CALLS.append((prompts, target, sorted(images), sorted(masks), options))
        return Segmentation(ball(geometry, np.asarray(prompts[0].position_lps), 12.0), geometry)


class WeightsBackend(SphereBackend):
    @classmethod
    def problem(cls):
        ASKED.append(cls.__name__)
        return "weights not found in /nonexistent/toy-model (set TOY_MODEL_DIR)"


class LazyBackend(SphereBackend):
    def problem(self):
        ASKED.append(type(self).__name__)
        return "weights not found in /nonexistent/lazy-model"


def make_lazy_backend():
    return LazyBackend()


class CrashingBackend(SphereBackend):
    def segment(self, images, geometry, prompts, target, *, masks, **options):
        raise RuntimeError("CUDA out of memory")
'''


def install_toy_backends(tmp_path, monkeypatch):
    """Install the toy back ends for one test; returns their module (its ``CALLS`` list records calls)."""
    from lesionview.segment import backends

    (tmp_path / f"{MODULE}.py").write_text(SOURCE)
    dist = tmp_path / f"{MODULE}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {MODULE.replace('_', '-')}\nVersion: 0.1\n")
    lines = "\n".join(f"{name} = {value}" for name, value in ENTRY_POINTS.items())
    (dist / "entry_points.txt").write_text(textwrap.dedent(f"[{backends.ENTRY_POINT_GROUP}]\n{lines}\n"))
    monkeypatch.syspath_prepend(str(tmp_path))
    # Each test gets its own copy of the module (and back ends made from it).
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    monkeypatch.setattr(backends, "_MADE", {})
    import importlib

    module = importlib.import_module(MODULE)
    monkeypatch.setitem(sys.modules, MODULE, module)
    return module
