"""xrdnet: crystal-symmetry prediction from powder X-ray diffraction patterns.

The pipeline is structures -> simulate -> HDF5 data set -> train (CNN | forest) -> compare ->
explain (surrogate rules), plus predict for a user's measured pattern. See ``DESIGN.md``.

``xrdnet.predict(two_theta_deg, intensity, wavelength=...)`` answers one pattern given as arrays
(``xrdnet.predict`` is also the module of the file-level helpers; it is callable), and
``xrdnet.Predictor`` loads a checkpoint once for many patterns. Both are imported on first use, so
``import xrdnet`` stays light.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "predict", "Predictor", "PredictionResult", "PredictionWarning"]


def __getattr__(name: str):
    if name == "predict":
        import importlib

        return importlib.import_module("xrdnet.predict")  # a callable module: xrdnet.predict(...) works
    if name in ("Predictor", "PredictionResult", "PredictionWarning"):
        from xrdnet import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'xrdnet' has no attribute {name!r}")
