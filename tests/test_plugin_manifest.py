"""The napari plugin manifest: valid for npe2, installed, and its reader found for our inputs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from npe2 import PluginManager, PluginManifest

from lesionview.geometry import Geometry
from lesionview.io import write_nifti

MANIFEST = Path(__file__).resolve().parents[1] / "plugins" / "napari_lesionview" / "napari.yaml"
DICM = b"\0" * 128 + b"DICM"


@pytest.fixture(scope="module")
def manifest() -> PluginManifest:
    return PluginManifest.from_file(MANIFEST)


@pytest.fixture(scope="module")
def plugin_manager() -> PluginManager:
    pm = PluginManager()
    pm.discover()
    return pm


@pytest.fixture
def inputs(tmp_path) -> dict[str, Path]:
    """One of each input kind the reader must be offered (tiny stand-ins; pixels do not matter)."""
    folder = tmp_path / "series"
    folder.mkdir()
    (folder / "IM0001").write_bytes(DICM)  # DICOM names often have no suffix
    single = tmp_path / "slice.dcm"
    single.write_bytes(DICM)
    with zipfile.ZipFile(tmp_path / "study.zip", "w") as zf:
        zf.writestr("DICOM/IM0001", DICM)
    write_nifti(np.zeros((2, 3, 4), np.int16), tmp_path / "t2.nii.gz", geometry=Geometry((2, 3, 4)))
    write_nifti(np.zeros((2, 3, 4), np.int16), tmp_path / "T1.NII", geometry=Geometry((2, 3, 4)))
    return {"dicom folder": folder, "single dicom": single, "zip": tmp_path / "study.zip",
            "nii.gz": tmp_path / "t2.nii.gz", "nii (upper case)": tmp_path / "T1.NII"}


def test_manifest_validates_with_the_npe2_cli(manifest):
    # The CLI as a user or CI would run it, against the installed plugin (not only the file).
    result = subprocess.run([sys.executable, "-m", "npe2", "validate", manifest.name],
                            check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_manifest_names_and_reader(manifest):
    assert manifest.display_name == "lesionview"
    # npe2 refuses a manifest whose name differs from the distribution that installs it.
    dists = {ep.dist.name for ep in metadata.entry_points(group="napari.manifest")
             if ep.value == "napari_lesionview:napari.yaml"}
    assert dists == {manifest.name}
    (reader,) = manifest.contributions.readers
    assert reader.accepts_directories
    assert {"*.nii", "*.nii.gz", "*.dcm", "*.zip"} <= set(reader.filename_patterns)


def test_plugin_is_discovered_without_errors(plugin_manager, manifest):
    assert manifest.name in plugin_manager._manifests, "entry point napari.manifest not installed"
    assert not plugin_manager.is_disabled(manifest.name)


KINDS = ["dicom folder", "single dicom", "zip", "nii.gz", "nii (upper case)"]


@pytest.fixture(scope="module")
def napari_plugins():
    """napari's own plugin registry, discovered as napari does at start-up (a viewer would do it
    too; this keeps the test independent of test order)."""
    from napari.plugins import _initialize_plugins

    _initialize_plugins()


@pytest.mark.parametrize("kind", KINDS)
def test_napari_finds_our_reader(kind, inputs, manifest, napari_plugins):
    from napari.plugins import _npe2

    path = inputs[kind]
    # What napari's File > Open asks: which plugins can read this path?
    assert manifest.name in _npe2.get_readers(str(path))
    # ... and our reader accepts it (returns a callable, not None).
    from napari_lesionview._reader import get_reader

    assert callable(get_reader(str(path)))


def test_napari_finds_our_reader_for_real_data(shared_data, manifest, plugin_manager):
    for path in [shared_data / "sct_t2" / "t2.nii.gz", shared_data / "dicom" / "sagittal_t1_series",
                 shared_data / "dicom" / "transfer_syntaxes" / "1.dcm"]:
        names = {r.plugin_name for r in plugin_manager.iter_compatible_readers([str(path)])}
        assert manifest.name in names, path
