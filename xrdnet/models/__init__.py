"""Models: ``cnn`` (the 1D CNN, a LightningModule), ``forest`` (the scikit-learn baseline), ``runs``
(load any trained run folder behind one prediction interface), ``registry`` (the ``Model`` protocol and
the kinds by name; ``cnn_run`` and ``forest_run`` register the two kinds), ``forest_store`` (forests
saved and loaded without unpickling).

Nothing is imported here, so ``import xrdnet.models.forest`` does not pull in torch and Lightning.
"""
