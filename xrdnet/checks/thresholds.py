"""The thresholds of the checks before answering, each with where its value comes from.

The rule for every refusing check (``scripts/calibrate_checks.py``, simulated data only): the false
refusals on simulated single-phase validation patterns stay ≤ 1 %; the value in force is kept when
it meets the rule. The figures quoted are that script's on 4000 validation patterns and 500
simulated negatives per check. The signal parameters that define a "sharp peak" live with the
measurement (``xrdnet.signal``) and are re-exported here, so every number a check uses is named here.
"""

from __future__ import annotations

import re

from xrdnet.signal.background import BACKGROUND_WINDOW_DEG, SMOOTH_DEG  # noqa: F401 - re-exported
from xrdnet.signal.peaks import PEAK_SIGMAS, SHARP_PEAK_MIN_HEIGHT  # noqa: F401 - re-exported

MIN_COVERAGE = 0.2
"""Refuse when less than this share of the model's 2θ range (its Q range) is measured.

Rule as for the others (false refusals ≤ 1 % on simulated validation patterns: 0.00 % of 4000, which
cover the whole range, so the rule does not pin it); validation patterns cut to 5–19 % of the range are
refused 100 % (``scripts/calibrate_checks.py``)."""
WARN_COVERAGE = 0.75
"""Warn (``low_coverage``) when less than this share is measured."""
MIN_PEAKS = 3
"""Refuse with fewer sharp peaks: two lines do not fix a lattice (an fcc metal has 3 below 90°).

Rule (``scripts/calibrate_checks.py``, simulated data only): false refusals on simulated single-phase
validation patterns ≤ 1 %. Measured: 0.00 % of 4000 (4: 0.075 %, 5: 0.53 %, 6: 1.75 %); patterns
with 0–2 lines are refused 99.8 % of the time (32 % as too_few_peaks, the rest as one family)."""
AMORPHOUS_HUMP_RATIO = 0.5
"""A broad background whose top reaches half the pattern's top (both above the flat floor) is a hump.

Rule (with ``AMORPHOUS_MAX_PEAKS``; ``scripts/calibrate_checks.py``, simulated data only): false
refusals on simulated single-phase validation patterns ≤ 1 %. Measured: 0.00 % of 4000; simulated
amorphous humps (FWHM 5–10°, 0–2 weak peaks) refused as amorphous 64 % (85 % for any reason). The
rule does not pin this ratio: every value from 0.2 up has 0.00 % false refusals there, and 0.3 would
catch 99.6 % of the simulated humps; 0.5 is kept because it meets the rule."""
AMORPHOUS_MAX_PEAKS = 6
"""A pattern with a broad hump (``AMORPHOUS_HUMP_RATIO``) and fewer sharp peaks is refused.

Chosen with ``AMORPHOUS_HUMP_RATIO`` by the same rule (false refusals ≤ 1 % on simulated validation
patterns: 0.00 %); at ratio 0.5, 3 → 6 peaks raises detection of simulated humps from 33 % to 64 %."""
X_AXIS_MAX_FOR_Q_OR_D = 12.0
"""A "2θ" axis that never exceeds 12° is read as a Q (1/Å; Cu Kα 5–90° is Q 0.36–6.0) or d range.

False refusals on simulated validation patterns (2θ 5–90°): 0.00 % of 4000; their Q axes given
unlabelled as 2θ are refused 100 % (``scripts/calibrate_checks.py``)."""
X_AXIS_MAX_FOR_DECREASING_D = 40.0
"""A decreasing "2θ" axis that never exceeds 40° is read as d spacings (Å), which files write decreasing.

Not swept by ``scripts/calibrate_checks.py`` (the value api.py always had): it only acts on unlabelled
decreasing axes, which the simulated validation patterns never are."""
THIN_FILM_FAMILY_SHARE = 0.9
"""Peaks of one family of orders (Q ≈ n·Q₁) holding this share of the peak height, with at most
``THIN_FILM_MAX_FAMILY_PEAKS`` strong peaks overall: an oriented film, not a powder."""
THIN_FILM_MAX_FAMILY_PEAKS = 4
THIN_FILM_MAX_PEAKS = 6
"""One family refuses only with at most this many sharp peaks in all; with more it is texture (a warning).

Rule (``scripts/calibrate_checks.py``, simulated data only): false refusals on simulated single-phase
validation patterns ≤ 1 %. Measured: 0.00 % of 4000 (the one-family test never fires on them, so
any value 2–15 meets the rule); simulated films (2–4 orders n·Q₁) refused as thin_film 80 % (the
misses are the one-family test's, not this count's: 4–15 all give 80 %)."""
THIN_FILM_STRONG_SHARE = 0.05
"""Peaks at least this share of the strongest count as strong in the one-family test."""
DOUBLET_Q_TOLERANCE = 0.005
"""Lines within 0.5 % in Q of a stronger one are its Kα doublet partner (ΔQ/Q ≈ 0.25 % for Cu)."""
ORDER_TOLERANCE = 0.02
"""A line is an order n of Q₁ when Q/Q₁ is within 0.02 of an integer."""
THIN_FILM_WORDS = re.compile(r"(?i)thin[ -]?film|epitax|\bom(ega)?[-_ ]?2th|2theta[-_ ]?omega|omega[-_ ]?2theta|"
                             r"rocking|reciprocal space map|\bMRD\b|grazing|GIXRD")
"""Header words of film measurements (XRDML, RAW and text headers)."""
MIN_POINTS = 20
"""A powder pattern given as arrays needs at least this many points."""
