"""Models: ``cnn`` (the 1D CNN, a LightningModule), ``forest`` (the scikit-learn baseline), ``runs``
(load any trained run folder behind one prediction interface).

Nothing is imported here, so ``import xrdnet.models.forest`` does not pull in torch and Lightning.
"""
