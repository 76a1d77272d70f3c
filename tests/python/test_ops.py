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


def golden_stems(folder, suffix):
    """The cases of a golden folder: names less `suffix` of its files ending with it, sorted (STYLE.md §2.7: golden
    tests discover their cases, the same tests run on other case sets)."""
    return sorted(p.name[: -len(suffix)] for p in folder.glob("*" + suffix))


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
    print(f"checked {checked} mask_to_boundary cases")
    assert checked > 0


def test_mask_to_boundary_equals_a_max_pool_erosion_in_torch():
    torch.manual_seed(0)
    mask = (torch.rand(3, 40, 57) > 0.3).to(torch.uint8)
    d = boundseg.boundary_band_width(0.1, 40, 57)
    padded = F.pad(mask.float().unsqueeze(1), (1, 1, 1, 1))  # the outside is background
    eroded = -F.max_pool2d(-padded, 2 * d + 1, stride=1, padding=d)  # padding: -inf never erodes
    expected = mask - eroded[:, 0, 1:-1, 1:-1].to(torch.uint8)
    assert torch.equal(boundseg.mask_to_boundary(mask, 0.1), expected)


def test_label_ops_on_golden_maps():
    checked = 0
    for stem in golden_stems(GOLDEN / "boundary" / "cbl", "_boundary.png"):
        labels = read_png(GOLDEN / "boundary" / "labels" / f"{stem}.png")
        if labels.numel() > 300_000:
            continue  # keep the smoke test quick
        expected = read_png(GOLDEN / "boundary" / "cbl" / f"{stem}_boundary.png")
        assert torch.equal(boundseg.cbl_boundary_targets(labels), expected), stem
        edges = read_png(GOLDEN / "boundary" / "inverseform_edges" / f"{stem}.png")
        assert torch.equal(boundseg.inverseform_edges(labels), edges), stem
        band = boundseg.label_boundary_band(labels.long(), 0.02)
        assert band.dtype == torch.bool and band.shape == labels.shape
        checked += 1
    print(f"checked {checked} label maps")
    assert checked > 0


def test_segment_distance_transform_is_exact():
    labels = torch.zeros(6, 7, dtype=torch.int64)
    labels[2:4, 3:5] = 1
    dist = boundseg.segment_distance_transform(labels)
    assert dist[0, 0].item() == pytest.approx((2**2 + 3**2) ** 0.5)
    assert dist[2, 3].item() == 1.0


def test_bad_input_raises_with_the_house_message():
    with pytest.raises(Exception, match="'mask' must be a uint8 mask, but got a 2-D Float tensor"):
        boundseg.mask_to_boundary(torch.zeros(4, 4), 0.02)


def _golden_tensors(path):
    from safetensors_reader import read_safetensors

    entries, metadata = read_safetensors(path)
    return {name: entry.to_torch() for name, entry in entries.items()}, metadata


def test_dense_crf_loss_trains_through_autograd_and_matches_the_rloss_goldens():
    stems = golden_stems(GOLDEN / "rloss" / "loss", ".safetensors")
    for stem in stems:
        tensors, meta = _golden_tensors(GOLDEN / "rloss" / "loss" / f"{stem}.safetensors")
        probs = tensors["probs"].clone().requires_grad_(True)
        loss = boundseg.dense_crf_loss(tensors["image"], probs, tensors["roi"], float(meta["weight"]),
                                       float(meta["sigma_rgb"]), float(meta["sigma_xy"]), float(meta["scale_factor"]),
                                       False, True)
        loss.backward()
        expected = tensors["loss"].item()
        assert abs(loss.item() - expected) <= 1e-5 * abs(expected), stem  # MANIFEST.md tolerances
        ref = tensors["grad_probs"]
        assert (probs.grad - ref).abs().max() <= 1e-5 * ref.abs().max(), stem
    print(f"checked {len(stems)} DenseCRF loss cases")
    assert stems


def test_bilateral_filter_matches_the_rloss_goldens_and_its_transpose_is_the_adjoint():
    stems = golden_stems(GOLDEN / "rloss" / "filter", ".safetensors")
    for stem in stems:
        tensors, meta = _golden_tensors(GOLDEN / "rloss" / "filter" / f"{stem}.safetensors")
        out = boundseg.bilateral_filter(tensors["image"], tensors["values"], float(meta["sigma_rgb"]),
                                        float(meta["sigma_xy"]), True)
        assert (out - tensors["output"]).abs().max() <= 1e-5 * tensors["output"].abs().max(), stem
        x, y = torch.randn_like(tensors["values"]), torch.randn_like(tensors["values"])
        ax = boundseg.bilateral_filter(tensors["image"], x).double()
        ax_y = (ax * y.double()).sum()
        x_aty = (x.double() * boundseg.bilateral_filter(tensors["image"], y, transpose=True).double()).sum()
        # float precision: relative to the Cauchy-Schwarz bound |<Ax, y>| <= |Ax| |y|
        assert abs(ax_y - x_aty) <= 1e-6 * ax.norm() * y.double().norm(), stem
    print(f"checked {len(stems)} bilateral filter cases")
    assert stems


def test_dense_crf_keeps_probabilities_normalised():
    image = torch.rand(3, 24, 32) * 255
    probs = torch.softmax(torch.randn(4, 24, 32), 0)
    q = boundseg.dense_crf(image, probs, 3)
    assert q.shape == probs.shape
    assert torch.allclose(q.sum(0), torch.ones(24, 32), atol=1e-5)
