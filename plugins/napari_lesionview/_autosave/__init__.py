"""Not losing work: annotations autosaved per voxel grid, offered back, and a question before closing.

Where
    ``$LESIONVIEW_CACHE_DIR/autosave/<study>/<grid>/`` (default: the platform's user cache,
    ``platformdirs.user_cache_dir("lesionview")``). Masks are only meaningful on the voxel grid
    they were drawn on, so an autosave is keyed by that grid (:class:`GridKey`): the series the
    grid belongs to (its SeriesInstanceUID, else, for NIfTI, a hash of its file path) and the
    grid's geometry (shape, spacing, origin, direction). ``<study>`` (the StudyInstanceUID, else
    the series, else the file) only groups the autosaves of one study, so that the annotations
    of another series of the study can be offered too, resampled onto this grid (nearest
    neighbour, :func:`restore_resampled`), when the user asks for it.
What
    one NIfTI per annotation Labels layer (``lesions``, ``edema``, ``cord``) on its displayed
    grid at its true physical position, ``levels.json`` (landmark names, LPS mm) and
    ``manifest.json`` (the grid key, written last; a folder without it is ignored). Every file
    is written atomically, on a worker thread, debounced after edits.
Earlier autosaves
    lesionview before this layout kept one autosave per study, ``autosave/<study>/manifest.json``,
    whichever series the masks were drawn on. They are migrated, not ignored, when their study
    is next opened (:func:`migrate_legacy`): the grid is read from the saved masks' NIfTI
    headers; an open image of the study on exactly that grid names the series, else the series
    stays unknown and the autosave is only ever offered resampled (which changes nothing when
    the grids agree). A legacy autosave that cannot be read is left where it is, and ignored.
When asked
    closing the napari window (its close button, File > Close Window, Quit) with annotations
    changed since they were last saved to a file or restored asks first. The question is
    :attr:`Autosaver.ask_close` (a callable ``message -> bool``), replaceable in tests.

Modules
    :mod:`.keys` (where, and the grid key), :mod:`.store` (what is written and read back),
    :mod:`.legacy` (migrating study-keyed autosaves), :mod:`.restoring` (putting an autosave
    back, resampled or not) and :mod:`.saver` (the debounced autosave and the close guard).
"""

from .keys import (
    ENV_CACHE_DIR,
    GridKey,
    autosave_dir,
    cache_dir,
    grid_key,
    image_on,
    reference_layer,
    series_key,
    study_key,
)
from .legacy import migrate_legacy
from .restoring import restore, restore_resampled
from .saver import DEFAULT_DELAY_MS, Autosaver, autosaver_for, mark_saved_data
from .store import (
    ANNOTATION_ROLES,
    FORMAT,
    MANIFEST,
    AutosaveInfo,
    discard_autosave,
    find_autosave,
    other_grid_autosaves,
    read_autosave,
    snapshot,
    study_autosaves,
    write_snapshot,
)

__all__ = ["ANNOTATION_ROLES", "DEFAULT_DELAY_MS", "ENV_CACHE_DIR", "FORMAT", "MANIFEST",
           "AutosaveInfo", "Autosaver", "GridKey", "autosave_dir", "autosaver_for", "cache_dir",
           "discard_autosave", "find_autosave", "grid_key", "image_on", "mark_saved_data",
           "migrate_legacy", "other_grid_autosaves", "read_autosave", "reference_layer", "restore",
           "restore_resampled", "series_key", "snapshot", "study_autosaves", "study_key",
           "write_snapshot"]
