"""`boundseg export` served from Debian's python3-torch: torch.jit.load on modules written by the C++ CLI."""
import json
import os
import subprocess
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="python3-torch is not installed: serving an export needs it")

from test_convert_checkpoint import (GOLDEN, convert_checkpoint, golden_model_case, golden_weights,  # noqa: E402
                                     read_safetensors)

CLI = os.environ.get("BOUNDSEG_CLI")


def export(*args):
    if not CLI:
        pytest.skip("BOUNDSEG_CLI is not set (ctest sets it to the built boundseg binary)")
    result = subprocess.run([CLI, "export", "--quiet", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def golden_io(name):
    return {k: e.to_torch() for k, e in read_safetensors(GOLDEN / f"{name}_io.safetensors")[0].items()}


# BPR's networks by patch size S (bpr.md §4.1): a case's network is the one its input size names.
BPR_NETS = {128: "bpr_hrnet18s", 256: "bpr_hrnet48"}


def golden_ocr(tmp_path):
    """The golden openseg HRNet + OCR case (its io file stores out_aux): (weight entries by key, one merged weights
    file, its JSON config, the io tensors)."""
    name, index = golden_model_case("out_aux")
    entries = golden_weights(index)
    io = golden_io(name)
    # The weights are split in several files; merge them with the converter's writer.
    weights = tmp_path / "ocr.safetensors"
    convert_checkpoint.write_safetensors(weights, [(k, e.to_torch()) for k, e in entries.items()], {})
    config = tmp_path / "ocr.json"
    # openseg names its backbones hrnet<W> after the first branch's width, boundseg's zoo hrnet_w<W>_ocr.
    arch = f"hrnet_w{io['backbone_out0'].shape[1]}_ocr"
    config.write_text(json.dumps({"arch": arch, "bn_variant": "abn_leaky"}))
    return entries, weights, config, io


def test_exported_bpr_network_reproduces_the_reference_logits(tmp_path):
    name, index = golden_model_case("fg_prob64")
    io = golden_io(name)
    weights = sorted(set(index["weight_map"].values()))
    assert len(weights) == 1, weights  # the CLI takes one weights file
    out = tmp_path / "bpr.pt"
    export("--model", BPR_NETS[io["input"].shape[-1]], "--weights", GOLDEN / weights[0], "--out", out)
    module = torch.jit.load(str(out))
    torch.set_num_threads(1)  # as the golden was made
    with torch.no_grad():
        logits = module(io["input"])
    assert (logits - io["logits"]).abs().max().item() <= 1e-4  # MANIFEST.md tolerance
    assert list(module.state_dict()) == index["keys_in_order"]


def test_exported_hrnet_ocr_from_a_config_runs_at_any_size(tmp_path):
    _, weights, config, io = golden_ocr(tmp_path)
    out = tmp_path / "ocr.pt"
    export("--model", config, "--weights", weights, "--out", out, "--example", "64x96")  # traced at another size

    module = torch.jit.load(str(out))
    torch.set_num_threads(1)
    classes, h, w = io["out"].shape[1:]
    with torch.no_grad():
        out_full = module(io["input"])
        batch = module(torch.cat([io["input"], io["input"].flip(3)]))
        odd = module(io["input"][:, :, : max(1, h - 28), : max(1, w - 58)])
    assert out_full.shape == io["out"].shape
    # Same class as the reference at every pixel (the manifest's criterion for this case).
    assert torch.equal(out_full.argmax(1), io["out"].argmax(1))
    assert batch.shape == (2, classes, h, w)
    assert (batch[:1] - out_full).abs().max().item() <= 1e-3  # batch 2 changes only kernel rounding
    assert odd.shape == (1, classes, max(1, h - 28), max(1, w - 58))


def test_training_export_trains_in_pytorch_and_keeps_the_weights(tmp_path):
    entries, weights, config, io = golden_ocr(tmp_path)
    classes = io["out"].shape[1]
    out = tmp_path / "ocr_train.pt"
    export("--train", "--model", config, "--weights", weights, "--out", out, "--example", "64x64")

    module = torch.jit.load(str(out))
    # Tracing ran batch norm in training mode, but the saved running statistics are the weights' own.
    state = module.state_dict()
    for key in ("backbone.bn1.running_mean", "backbone.stage4.2.fuse_layers.3.2.0.1.running_var",
                "conv3x3.1.running_mean"):
        assert torch.equal(state[key], entries[key].to_torch()), key
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    aux, main = module(x)  # (aux, out), the reference's order, both at the input size
    assert aux.shape == main.shape == (2, classes, 64, 64)
    # Batch statistics: an image's output depends on the other images of the batch (eval mode would not).
    _, alone = module(x[:1])
    assert (alone - main[:1]).abs().max().item() > 1e-3
    assert not torch.equal(state["backbone.bn1.running_mean"], entries["backbone.bn1.running_mean"].to_torch())
    # One SGD step on a cross entropy lowers it.
    target = torch.randint(0, classes, (2, 64, 64))
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9)
    torch.manual_seed(1)
    before = torch.nn.functional.cross_entropy(module(x)[1], target)
    before.backward()
    optimizer.step()
    torch.manual_seed(1)  # the same dropout mask
    after = torch.nn.functional.cross_entropy(module(x)[1], target)
    assert after.item() < before.item()
