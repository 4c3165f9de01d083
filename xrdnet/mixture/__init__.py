"""Likely-mixture detector: is a pattern one phase, or two or three phases in similar amounts?

The symmetry CNN answers one crystal system for anything it is given; a sample made of two or three
phases gets a confident, meaningless answer. This package flags such patterns before the answer is
trusted: a small binary 1D CNN trained on **simulated mixtures of real structures**.

* ``detector``: the network, its settings (``MixtureConfig``), the trained ``MixtureDetector`` with its
  threshold, and its files in ``<checkpoint>/mixture/`` (``load_mixture_detector``, weights-only);
* ``training``: the recipe (``MixtureRecipe``, ``configs/mixture.yaml``), the batches, the step-count
  schedule (``fit``) and the threshold for a false-positive rate;
* ``evidence``: the flag from evidence, the detector's logit beside the figures of merit of the best
  cells the indexing found (``EvidenceCombiner``, ``evidence.json`` beside the detector);
* ``finished``: mixtures of finished single-phase patterns (``make_mixtures``), a test set;
* ``evaluation``: the train/val/test material of a data set's compound split and measured files, as
  ``scripts/train_mixture_detector.py`` uses them.

Specimens of several phases are rendered by the simulator's one renderer (``xrdnet.simulate.mixtures``)
from a data set's cached sticks (``xrdnet.data.specimen_batches``).
"""

from xrdnet.mixture.detector import (EVIDENCE_FILE, META_FILE, SUBDIR, WEIGHTS_FILE, MixtureConfig, MixtureDetector,
                                     load_evidence, load_mixture_detector, mixture_dir, pool_patterns)
from xrdnet.mixture.evidence import EVIDENCE_FEATURES, EvidenceCombiner, evidence_row, fit_combiner
from xrdnet.mixture.finished import Mixtures, draw_fractions, draw_members, make_mixtures
from xrdnet.mixture.training import (MATERIALS, MixtureRecipe, PatternBatches, augment, fit, roc_auc,
                                     threshold_for_fpr)

__all__ = ["EVIDENCE_FEATURES", "EVIDENCE_FILE", "EvidenceCombiner", "evidence_row", "fit_combiner", "load_evidence",
           "META_FILE", "SUBDIR", "WEIGHTS_FILE", "MATERIALS", "MixtureConfig", "MixtureDetector", "MixtureRecipe",
           "Mixtures", "PatternBatches", "augment", "draw_fractions", "draw_members", "fit", "load_mixture_detector",
           "make_mixtures", "mixture_dir", "pool_patterns", "roc_auc", "threshold_for_fpr"]
