"""Pruning for Keras 3 on every backend (tfmot's API and semantics).

`prune_low_magnitude` wraps layers in `PruneLowMagnitude`, `fit()` with
the `UpdatePruningStep` callback prunes them on a `PruningSchedule`,
`strip_pruning` bakes the zeros into a plain model, `sparsity_report`
measures them. `cluster_weights` keeps `k` distinct values per kernel,
trained by `fit()`, and `strip_clustering` bakes them in.
`quantize_aware` prepares a model for quantization-aware training whose
LiteRT conversion is fully int8, BatchNorms folded into their
convolutions.
"""

from kerasbig.optimize.batch_norm_folding import FoldedInto
from kerasbig.optimize.batch_norm_folding import QuantizeAwareConvBatchNorm
from kerasbig.optimize.cluster_weights import CENTROID_INITS
from kerasbig.optimize.cluster_weights import ClusterWeights
from kerasbig.optimize.cluster_weights import cluster_weights
from kerasbig.optimize.cluster_weights import strip_clustering
from kerasbig.optimize.prunable_layer import PrunableLayer
from kerasbig.optimize.prune_low_magnitude import PruneLowMagnitude
from kerasbig.optimize.prune_low_magnitude import prune_low_magnitude
from kerasbig.optimize.prune_low_magnitude import supported_layers
from kerasbig.optimize.pruning_schedule import ConstantSparsity
from kerasbig.optimize.pruning_schedule import PolynomialDecay
from kerasbig.optimize.pruning_schedule import PruningSchedule
from kerasbig.optimize.quantize_aware import QuantizeActivations
from kerasbig.optimize.quantize_aware import QuantizeAware
from kerasbig.optimize.quantize_aware import QuantizeOutput
from kerasbig.optimize.quantize_aware import quantize_aware
from kerasbig.optimize.quantize_config import QuantizeAnnotate
from kerasbig.optimize.quantize_config import QuantizeConfig
from kerasbig.optimize.quantize_config import QuantizeWithConfig
from kerasbig.optimize.quantize_config import quantize_annotate_layer
from kerasbig.optimize.sparsity_report import sparsity_report
from kerasbig.optimize.sparsity_report import sparsity_total
from kerasbig.optimize.strip_pruning import strip_pruning
from kerasbig.optimize.update_pruning_step import UpdatePruningStep

__all__ = [
    "CENTROID_INITS",
    "ClusterWeights",
    "cluster_weights",
    "strip_clustering",
    "ConstantSparsity",
    "FoldedInto",
    "PolynomialDecay",
    "PrunableLayer",
    "PruneLowMagnitude",
    "PruningSchedule",
    "QuantizeActivations",
    "QuantizeAnnotate",
    "QuantizeAware",
    "QuantizeAwareConvBatchNorm",
    "QuantizeConfig",
    "QuantizeOutput",
    "QuantizeWithConfig",
    "UpdatePruningStep",
    "prune_low_magnitude",
    "quantize_annotate_layer",
    "quantize_aware",
    "sparsity_report",
    "sparsity_total",
    "strip_pruning",
    "supported_layers",
]
