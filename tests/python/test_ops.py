"""Smoke tests of the Python access path: torch.ops.boundseg.* from python3-torch."""
import json
import os
from pathlib import Path

import cv2
import pytest
import torch
import torch.nn.functional as F

import boundseg

GOLDEN = Path(os.environ.get("BOUNDSEG_GOLDEN_DIR", Path(__file__).resolve().parents[3] / "shared" / "golden"))


def read_png(path):
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return torch.from_numpy(image)


def test_ops_are_registered_with_the_dispatcher():
    assert torch.ops.boundseg.mask_to_boundary is boundseg.mask_to_boundary
    assert boundseg.boundary_band_width(0.02, 375, 500) == 12  # half-to-even


def test_mask_to_boundary_matches_golden_cases():
    cases = json.loads((GOLDEN / "boundary" / "mask_to_boundary" / "index.json").read_text())
    checked = 0
    for case in cases:
        mask = read_png(GOLDEN / "boundary" / case["input"])
        if mask.numel() > 300_000:
            continue  # keep the smoke test quick
        expected = read_png(GOLDEN / "boundary" / case["output"])
        assert torch.equal(boundseg.mask_to_boundary(mask, case["ratio"]), expected), case["output"]
        checked += 1
    assert checked >= 50


def test_mask_to_boundary_equals_a_max_pool_erosion_in_torch():
    torch.manual_seed(0)
    mask = (torch.rand(3, 40, 57) > 0.3).to(torch.uint8)
    d = boundseg.boundary_band_width(0.1, 40, 57)
    padded = F.pad(mask.float().unsqueeze(1), (1, 1, 1, 1))  # the outside is background
    eroded = -F.max_pool2d(-padded, 2 * d + 1, stride=1, padding=d)  # padding: -inf never erodes
    expected = mask - eroded[:, 0, 1:-1, 1:-1].to(torch.uint8)
    assert torch.equal(boundseg.mask_to_boundary(mask, 0.1), expected)


def test_label_ops_on_a_golden_map():
    labels = read_png(GOLDEN / "boundary" / "labels" / "voronoi_64x128.png")
    expected = read_png(GOLDEN / "boundary" / "cbl" / "voronoi_64x128_boundary.png")
    assert torch.equal(boundseg.cbl_boundary_targets(labels), expected)
    edges = read_png(GOLDEN / "boundary" / "inverseform_edges" / "voronoi_64x128.png")
    assert torch.equal(boundseg.inverseform_edges(labels), edges)
    band = boundseg.label_boundary_band(labels.long(), 0.02)
    assert band.dtype == torch.bool and band.shape == labels.shape


def test_segment_distance_transform_is_exact():
    labels = torch.zeros(6, 7, dtype=torch.int64)
    labels[2:4, 3:5] = 1
    dist = boundseg.segment_distance_transform(labels)
    assert dist[0, 0].item() == pytest.approx((2**2 + 3**2) ** 0.5)
    assert dist[2, 3].item() == 1.0


def test_bad_input_raises_with_the_house_message():
    with pytest.raises(Exception, match="'mask' must be a uint8 mask, but got a 2-D Float tensor"):
        boundseg.mask_to_boundary(torch.zeros(4, 4), 0.02)
