"""boundseg's C++ kernels for PyTorch: boundary ops, the permutohedral filter, the rloss losses, DenseCRF.

Importing this package loads ``libboundseg_torch_ops.so`` with
``torch.ops.load_library`` so that the kernels are available both as
``torch.ops.boundseg.<name>`` and as the functions below. The library is found
through ``$BOUNDSEG_OPS_LIBRARY`` or next to a ``build/`` directory of the
source tree.
"""
import os
from pathlib import Path

import torch

__all__ = [
    "boundary_band_width",
    "mask_to_boundary",
    "label_boundary_band",
    "cbl_boundary_targets",
    "inverseform_edges",
    "seg2bmap",
    "segment_distance_transform",
    "bilateral_filter",
    "dense_crf_loss",
    "normalized_cut_loss",
    "dense_crf",
    "library_path",
]


def _find_library() -> Path:
    env = os.environ.get("BOUNDSEG_OPS_LIBRARY")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[2]
    for candidate in sorted(root.glob("build*/libboundseg_torch_ops.so")):
        return candidate
    raise ImportError(
        "boundseg: the op library libboundseg_torch_ops.so must be built "
        "(./setup.sh builds it into build/) or named by $BOUNDSEG_OPS_LIBRARY, but got neither."
    )


library_path = _find_library()
torch.ops.load_library(str(library_path))
_ops = torch.ops.boundseg

boundary_band_width = _ops.boundary_band_width
mask_to_boundary = _ops.mask_to_boundary
label_boundary_band = _ops.label_boundary_band
cbl_boundary_targets = _ops.cbl_boundary_targets
inverseform_edges = _ops.inverseform_edges
seg2bmap = _ops.seg2bmap
segment_distance_transform = _ops.segment_distance_transform
bilateral_filter = _ops.bilateral_filter
dense_crf_loss = _ops.dense_crf_loss
normalized_cut_loss = _ops.normalized_cut_loss
dense_crf = _ops.dense_crf
