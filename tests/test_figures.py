"""Figures checked for what they show (curves, bars, labels, titles), not only for existing.

Every figure xrdnet writes goes through ``Figure.savefig``; the ``saved`` fixture keeps each figure
object as it is saved, so the tests read its artists, and the PNG itself is opened and checked."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

GENUINE = Path(__file__).parent / "data" / "formats" / "xrdml" / "datalab_HL1-2_5-90_60min.xrdml"
RRUFF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "rruff"


@pytest.fixture
def saved(monkeypatch):
    """List of ``(figure, path)`` for every figure saved while the test runs."""
    figures = []
    original = Figure.savefig

    def spy(self, fname, *args, **kwargs):
        figures.append((self, Path(str(fname))))
        return original(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return figures


def _png_is_a_picture(path: Path, min_size=(200, 300)):
    image = mpimg.imread(path)
    assert image.shape[0] >= min_size[0] and image.shape[1] >= min_size[1]
    assert image[..., :3].std() > 0.02  # not a blank canvas


def test_plot_patterns_draws_one_curve_and_one_stick_set_per_pattern(saved, tmp_path):
    from xrdnet.plots import plot_patterns

    x = np.linspace(5, 90, 500)
    curves = [np.exp(-0.5 * ((x - c) / 0.5) ** 2) for c in (20, 40, 60)]
    sticks = [(np.array([c, c + 10.0]), np.array([100.0, 30.0])) for c in (20, 40, 60)]
    path = plot_patterns(tmp_path / "p.png", x, curves, ["NaCl", "Si", "Cu"], sticks, title="three patterns")
    (fig, where), = saved
    assert where == path and path.is_file()
    ax = fig.axes[0]
    assert len(ax.lines) == 3
    # curves are stacked from the top: pattern i is offset by 1.25 (n - 1 - i)
    for i, (line, y) in enumerate(zip(ax.lines, curves)):
        np.testing.assert_allclose(line.get_xdata(), x)
        np.testing.assert_allclose(line.get_ydata(), y + 1.25 * (2 - i))
    sticks_drawn = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(sticks_drawn) == 3 and all(len(c.get_segments()) == 2 for c in sticks_drawn)
    # the 100 stick is 0.2 tall, the 30 stick 0.06
    heights = sorted(float(np.ptp(s[:, 1])) for s in sticks_drawn[0].get_segments())
    assert heights == pytest.approx([0.06, 0.2])
    assert "2θ" in ax.get_xlabel() and "intensity" in ax.get_ylabel() and ax.get_title() == "three patterns"
    assert {t.get_text() for t in ax.texts} == {"NaCl", "Si", "Cu"}
    assert ax.get_xlim() == pytest.approx((5, 90))
    _png_is_a_picture(path)


def test_confusion_matrix_figure_shows_the_row_normalised_matrix_and_counts(saved, tmp_path):
    from xrdnet.evaluate import confusion_matrix_figure
    from xrdnet.symmetry import CRYSTAL_SYSTEMS

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 7, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 7, 300))
    path = confusion_matrix_figure(y_true, y_pred, list(CRYSTAL_SYSTEMS), "crystal systems", tmp_path / "cm.png")
    (fig, _), = saved
    ax = fig.axes[0]
    counts = np.zeros((7, 7))
    np.add.at(counts, (y_true, y_pred), 1)
    shown = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(shown, counts / counts.sum(1, keepdims=True))
    annotated = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}
    assert annotated == {(i, j): int(counts[i, j]) for i in range(7) for j in range(7) if counts[i, j]}
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CRYSTAL_SYSTEMS)
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true" and ax.get_title() == "crystal systems"
    _png_is_a_picture(path)


def test_predict_plot_shows_the_pattern_its_peaks_and_the_answer(saved, tmp_path):
    from xrdnet.predict import predict_files

    source = GENUINE if GENUINE.is_file() else next(iter(sorted(RRUFF.glob("*.xy"))), None)
    if source is None:
        pytest.skip("no genuine pattern file")
    results, errors = predict_files([source], None, plot=tmp_path / "pred.png", force=True)
    assert not errors and len(results) == 1
    (fig, path), = saved
    assert path == tmp_path / "pred.png"
    ax = fig.axes[0]
    result = results[0]
    assert len(ax.lines) == 1 and len(ax.lines[0].get_xdata()) > 1000
    assert max(ax.lines[0].get_ydata()) == pytest.approx(1.0, abs=1e-6)
    peaks = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(peaks) == 1 and len(peaks[0].get_segments()) == len(result["peaks_two_theta_deg"])
    title = ax.get_title()
    assert source.name in title and result["crystal_system"]["name"] in title
    assert f"#{result['space_group']['number']}" in title
    assert "2θ" in ax.get_xlabel()
    _png_is_a_picture(path)
