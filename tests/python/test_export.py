"""`boundseg export` served from Debian's python3-torch: torch.jit.load on modules written by the C++ CLI."""
import json
import os
import subprocess
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="python3-torch is not installed: serving an export needs it")

from test_convert_checkpoint import GOLDEN, convert_checkpoint, read_safetensors  # noqa: E402

CLI = os.environ.get("BOUNDSEG_CLI")


def export(*args):
    if not CLI:
        pytest.skip("BOUNDSEG_CLI is not set (ctest sets it to the built boundseg binary)")
    result = subprocess.run([CLI, "export", "--quiet", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def golden_io(name):
    path = GOLDEN / f"{name}_io.safetensors"
    if not path.exists():
        pytest.skip(f"golden file {path} is missing (set BOUNDSEG_GOLDEN_DIR)")
    return {k: e.to_torch() for k, e in read_safetensors(path)[0].items()}


def golden_w18(tmp_path):
    """The golden HRNet-W18+OCR: (entries by key, one merged weights file, its JSON config)."""
    # The golden weights are split in two files; merge them with the converter's writer.
    entries = read_safetensors(GOLDEN / "openseg_hrnet18_ocr_weights-backbone.safetensors")[0]
    entries.update(read_safetensors(GOLDEN / "openseg_hrnet18_ocr_weights-heads.safetensors")[0])
    weights = tmp_path / "w18.safetensors"
    convert_checkpoint.write_safetensors(weights, [(k, e.to_torch()) for k, e in entries.items()], {})
    config = tmp_path / "w18.json"
    config.write_text(json.dumps({"arch": "hrnet_w18_ocr", "bn_variant": "abn_leaky"}))
    return entries, weights, config


def test_exported_bpr_network_reproduces_the_reference_logits(tmp_path):
    out = tmp_path / "bpr.pt"
    export("--model", "bpr_hrnet18s", "--weights", GOLDEN / "bpr_hrnet18s_128_weights.safetensors", "--out", out)
    module = torch.jit.load(str(out))
    io = golden_io("bpr_hrnet18s_128")
    torch.set_num_threads(1)  # as the golden was made
    with torch.no_grad():
        logits = module(io["input"])
    assert (logits - io["logits"]).abs().max().item() <= 1e-4  # MANIFEST.md tolerance
    index = json.loads((GOLDEN / "bpr_hrnet18s_128_weights_index.json").read_text())
    assert list(module.state_dict()) == index["keys_in_order"]


def test_exported_hrnet_ocr_from_a_config_runs_at_any_size(tmp_path):
    _, weights, config = golden_w18(tmp_path)
    out = tmp_path / "w18.pt"
    export("--model", config, "--weights", weights, "--out", out, "--example", "64x96")  # traced at another size

    module = torch.jit.load(str(out))
    io = golden_io("openseg_hrnet18_ocr")
    torch.set_num_threads(1)
    with torch.no_grad():
        out_128 = module(io["input"])
        batch = module(torch.cat([io["input"], io["input"].flip(3)]))
        odd = module(io["input"][:, :, :100, :70])
    assert out_128.shape == io["out"].shape
    # Same class as the reference at every pixel (the C++ golden test's criterion for this case).
    assert torch.equal(out_128.argmax(1), io["out"].argmax(1))
    assert batch.shape == (2, 19, 128, 128)
    assert (batch[:1] - out_128).abs().max().item() <= 1e-3  # batch 2 changes only kernel rounding
    assert odd.shape == (1, 19, 100, 70)


def test_training_export_trains_in_pytorch_and_keeps_the_weights(tmp_path):
    entries, weights, config = golden_w18(tmp_path)
    out = tmp_path / "w18_train.pt"
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
    assert aux.shape == main.shape == (2, 19, 64, 64)
    # Batch statistics: an image's output depends on the other images of the batch (eval mode would not).
    _, alone = module(x[:1])
    assert (alone - main[:1]).abs().max().item() > 1e-3
    assert not torch.equal(state["backbone.bn1.running_mean"], entries["backbone.bn1.running_mean"].to_torch())
    # One SGD step on a cross entropy lowers it.
    target = torch.randint(0, 19, (2, 64, 64))
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9)
    torch.manual_seed(1)
    before = torch.nn.functional.cross_entropy(module(x)[1], target)
    before.backward()
    optimizer.step()
    torch.manual_seed(1)  # the same dropout mask
    after = torch.nn.functional.cross_entropy(module(x)[1], target)
    assert after.item() < before.item()
