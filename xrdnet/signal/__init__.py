"""Signal processing on patterns as arrays, before any decision: axis, background split, noise, peaks.

Nothing here decides whether a pattern can be answered (that is ``xrdnet.checks``) or reads a file
(``xrdnet.io``); every function maps arrays to arrays or numbers, so the checks, the calibration of
their thresholds and the benches measure alike.

- ``axis``: order and de-duplicate the x axis; Q or d to the model's 2θ.
- ``background``: the sharp and broad parts (SNIP) and the noise σ.
- ``peaks``: the sharp peaks and the hump ratio the checks decide on; the peaks a result lists.
"""

from xrdnet.signal.axis import ordered_axis, q_of_axis, two_theta_at_model
from xrdnet.signal.background import BACKGROUND_WINDOW_DEG, SMOOTH_DEG, noise_sigma, sharp_and_broad
from xrdnet.signal.peaks import PEAK_SIGMAS, SHARP_PEAK_MIN_HEIGHT, SharpPeaks, peak_measurements, shown_peaks

__all__ = [
    "BACKGROUND_WINDOW_DEG", "PEAK_SIGMAS", "SHARP_PEAK_MIN_HEIGHT", "SMOOTH_DEG", "SharpPeaks", "noise_sigma",
    "ordered_axis", "peak_measurements", "q_of_axis", "sharp_and_broad", "shown_peaks", "two_theta_at_model",
]
