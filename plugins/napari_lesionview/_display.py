"""How the study is drawn: colour-blind-safe colours by role, mask outlines, window/level presets.

Colours
-------
The Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008; Wong, Nature Methods 8:441,
2011) stays distinct under the three common colour-vision deficiencies. The cord is sky blue,
edema yellow (the lightest colour, so a lesion drawn inside it differs in lightness as well as
hue) and lesions cycle through vermillion, reddish purple, bluish green, orange and blue: one
colour per lesion id, the first two (twin lesions are usually ids 1 and 2) the darkest against
the yellow edema.

Window/level
------------
MRI signal has no absolute unit (unlike CT's Hounsfield units): the same tissue reads 300 on one
scanner and 3000 on another, so fixed window values cannot be shared between series. A preset is
therefore a pair of percentiles of the series' own foreground voxels (those above 5 % of its
99.5th percentile, i.e. not the air around the patient), chosen for what the sequence must show:

* **T1** (0.5 - 99.9): the full range of the body; enhancing lesions are the brightest few
  voxels (< 0.1 % of a spine volume) and must keep their texture, not saturate.
* **T2** (1 - 99): CSF is the brightest tissue and may saturate a little, which spreads the
  cord's grey values so a hyperintense cord lesion or edema stands out from normal cord.
* **STIR** (5 - 99.5): fat is suppressed to noise, so the low end is raised to make that noise
  black; the bright end keeps edema and marrow oedema unsaturated.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Labels
from napari.utils.colormaps import CyclicLabelColormap, DirectLabelColormap

from ._study import LABEL_ROLES, role_of

#: The Okabe-Ito colours by their names.
OKABE_ITO = {"orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00",
             "reddish purple": "#CC79A7"}
#: Colour of label 1 of the one-class masks.
ROLE_COLOURS = {"cord": OKABE_ITO["sky blue"], "edema": OKABE_ITO["yellow"]}
#: Lesion ids 1, 2, 3 ... take these in turn (id 6 is vermillion again).
LESION_COLOURS = tuple(OKABE_ITO[n] for n in ("vermillion", "reddish purple", "bluish green", "orange", "blue"))

#: (low, high) percentiles of the foreground voxels for each preset (see the module docstring).
PRESETS = {"T1": (0.5, 99.9), "T2": (1.0, 99.0), "STIR": (5.0, 99.5)}
#: Voxels sampled for the percentiles: enough for a stable estimate, fast on any volume.
_SAMPLE = 2_000_000
_FOREGROUND = 0.05
#: Contour thickness (pixels) of an outlined mask; 0 fills it.
OUTLINE = 1


def label_colormap(role: str):
    """The napari label colormap of a mask role ("lesions", "edema" or "cord")."""
    if role == "lesions":
        return CyclicLabelColormap(colors=["transparent", *LESION_COLOURS], background_value=0)
    return DirectLabelColormap(color_dict={None: "transparent", 0: "transparent", 1: ROLE_COLOURS[role]})


def apply_role_colours(layer) -> bool:
    """Colour a Labels layer by its lesionview role; returns False for a layer without a mask role."""
    role = role_of(layer)
    if role not in ("lesions", "edema", "cord") or not hasattr(layer, "contour"):
        return False
    layer.colormap = label_colormap(role)
    return True


def set_outline(layer, on: bool) -> None:
    """Draw a Labels layer as outlines (the image stays visible inside) or filled.

    Every outline switch (the panel's "Outlines" button, the Shift+O key) goes through here, so
    they draw the same outline and each sees what the other did (``layer.events.contour``).
    """
    layer.contour = OUTLINE if on else 0


def is_outlined(layer) -> bool:
    """Whether a Labels layer is drawn as outlines."""
    return layer.contour > 0


def mask_layers(viewer) -> list:
    """The viewer's Labels layers with a mask role (lesions, edema, cord): those outlines apply to."""
    return [layer for layer in viewer.layers if isinstance(layer, Labels) and role_of(layer) in LABEL_ROLES]


def window(data, preset: str) -> tuple[float, float]:
    """Contrast limits (low, high) of ``preset`` ("T1", "T2" or "STIR") for an image array.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((10, 10, 10)); image[2:8, 2:8, 2:8] = np.linspace(100, 1000, 216).reshape(6, 6, 6)
    >>> low, high = window(image, "T2")
    >>> 100 < low < 120 and 980 < high < 1000
    True
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown window preset {preset!r}; expected one of {tuple(PRESETS)}")
    values = np.asarray(data).ravel()
    if values.size > _SAMPLE:
        values = values[:: values.size // _SAMPLE + 1]
    values = values[np.isfinite(values)].astype(np.float64, copy=False)
    if values.size == 0:
        return 0.0, 1.0
    top = np.percentile(values, 99.5)
    foreground = values[values > _FOREGROUND * top] if top > 0 else values
    if foreground.size == 0:
        foreground = values
    low, high = np.percentile(foreground, PRESETS[preset])
    if high <= low:
        high = low + 1.0
    return float(low), float(high)
