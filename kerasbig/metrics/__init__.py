"""Metrics: Fréchet and kernel distances between real and generated
samples (over features from any Keras feature extractor), filtered
ranking metrics for link prediction (MRR, Hits@k), and entity-level
precision, recall and F1 of tagged sequences."""

from kerasbig.metrics.distances import FrechetDistance
from kerasbig.metrics.distances import KernelDistance
from kerasbig.metrics.distances import frechet_distance
from kerasbig.metrics.entities import entity_scores
from kerasbig.metrics.entities import entity_spans
from kerasbig.metrics.ranking import RANK_TYPES
from kerasbig.metrics.ranking import link_prediction_metrics
from kerasbig.metrics.ranking import rank_metrics
from kerasbig.metrics.ranking import ranks

__all__ = [
    "RANK_TYPES",
    "FrechetDistance",
    "KernelDistance",
    "entity_scores",
    "entity_spans",
    "frechet_distance",
    "link_prediction_metrics",
    "rank_metrics",
    "ranks",
]
