"""Round trips of tools/convert_checkpoint.py: upstream checkpoint containers -> safetensors + side-car.

See formats.md §7 (checkpoint layouts, boundseg weight format), hrnet_ocr.md §1.1-1.2 and bpr.md §4.2 (key names).

The state dicts are the golden reference weights (exact reference key names and order), re-saved in each container
layout the model zoos use. The output is read back with the small safetensors reader below, written independently of
the converter, and compared byte for byte.
"""
import collections
import importlib.util
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="python3-torch is not installed: the checkpoint converter needs it")
np = pytest.importorskip("numpy", reason="numpy is not installed: the checkpoint converter tests need it")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "convert_checkpoint.py"
GOLDEN = Path(os.environ.get("BOUNDSEG_GOLDEN_DIR", REPO.parent / "shared" / "golden")) / "models"

_spec = importlib.util.spec_from_file_location("convert_checkpoint", SCRIPT)
convert_checkpoint = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(convert_checkpoint)

from safetensors_reader import read_safetensors  # noqa: E402


def tensor_bytes(tensor):
    """Raw bytes of a tensor via numpy (bfloat16 through its int16 bit pattern)."""
    tensor = tensor.detach().contiguous()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)
    return tensor.numpy().tobytes()


# --------------------------------------------------------------------------------------------------------------------
# Fixtures


def golden_model_case(output):
    """(name, weights index) of the first golden model case whose <name>_io.safetensors stores `output`: BPR stores
    fg_prob64, openseg's HRNet + OCR out_aux. Cases are found by content, not by name (STYLE.md §2.7: the same tests
    run on other case sets)."""
    if not GOLDEN.is_dir():
        pytest.skip(f"golden folder {GOLDEN} is missing (set BOUNDSEG_GOLDEN_DIR)")
    for io_path in sorted(GOLDEN.glob("*_io.safetensors")):
        name = io_path.name[: -len("_io.safetensors")]
        index_path = GOLDEN / f"{name}_weights_index.json"
        if index_path.exists() and output in read_safetensors(io_path)[0]:
            return name, json.loads(index_path.read_text())
    pytest.fail(f"no model case under {GOLDEN} stores '{output}'")


def golden_weights(index):
    """Every entry of the files an index names, in its reference key order."""
    entries = {}
    for file in sorted(set(index["weight_map"].values())):
        entries.update(read_safetensors(GOLDEN / file)[0])
    assert set(entries) == set(index["keys_in_order"])
    return collections.OrderedDict((k, entries[k]) for k in index["keys_in_order"])


@pytest.fixture(scope="module")
def bpr_entries():
    """BPR HRNet-18s + FCN head (873 mmseg keys in the golden set): F32 parameters and I64 num_batches_tracked."""
    return golden_weights(golden_model_case("fg_prob64")[1])


@pytest.fixture(scope="module")
def bpr_subset(bpr_entries):
    """The BPR weights without stage 4 and the last two stage-3 modules (261 of 873 entries, 3.6 of 15.9 MB): enough
    for the key-name detection, small enough to save in many containers quickly."""
    dropped = ("backbone.stage4.", "backbone.stage3.1.", "backbone.stage3.2.")
    return collections.OrderedDict((k, e) for k, e in bpr_entries.items() if not k.startswith(dropped))


@pytest.fixture(scope="module")
def bpr_checkpoint(tmp_path_factory, bpr_subset):
    """A plain zip-format state dict of bpr_subset, shared by the error tests."""
    path = tmp_path_factory.mktemp("bpr") / "bpr.pth"
    torch.save(state_dict_of(bpr_subset), path)
    return path


@pytest.fixture(scope="module")
def openseg_entries():
    """openseg HRNet-W18 + OCR (1583 keys, ABN naming) in reference key order, cut to the stem, stage 2, the first
    stage-4 branch and every OCR head key to keep the test quick."""
    entries = golden_weights(golden_model_case("out_aux")[1])
    keep = ("backbone.conv", "backbone.bn", "backbone.stage2.", "backbone.stage4.0.branches.0.", "conv3x3.",
            "ocr_distri_head.", "cls_head.", "aux_head.")
    return collections.OrderedDict((k, e) for k, e in entries.items() if k.startswith(keep))


def state_dict_of(entries, prefix=""):
    return collections.OrderedDict((prefix + k, e.to_torch()) for k, e in entries.items())


def run_convert(args, capsys=None):
    """Runs the converter in-process; returns (status, stdout, stderr)."""
    status = convert_checkpoint.main([str(a) for a in args])
    if capsys is None:
        return status, "", ""
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_round_trip(output, entries):
    """The output holds exactly `entries` (same names, order, dtypes, shapes and bytes)."""
    got, metadata = read_safetensors(output)
    assert list(got) == list(entries)
    for name, expected in entries.items():
        actual = got[name]
        assert (actual.dtype, actual.shape) == (expected.dtype, expected.shape), name
        assert actual.data == expected.data, name
    return metadata


def assert_sidecar_matches_metadata(output, metadata):
    sidecar = json.loads(Path(output).with_suffix(".json").read_text())
    for key, value in sidecar.items():
        if value is None:
            assert key not in metadata, key
        elif key in ("classes", "palette"):
            assert json.loads(metadata[key]) == value, key
        else:
            assert metadata[key] == str(value), key
    assert set(metadata) <= set(sidecar)
    return sidecar


# --------------------------------------------------------------------------------------------------------------------
# Round trips per container layout


def _bpr_containers(sd):
    mmcv_meta = {"mmcv_version": "1.2.0", "time": "Sat Dec 12 2020", "CLASSES": ("background", "foreground"),
                 "PALETTE": [[0, 0, 0], [255, 255, 255]], "iter": 160000, "config": "model = dict(...)"}
    return {
        "plain_zip_dict": (dict(sd), {}),
        "mmcv_meta_state_dict": ({"meta": mmcv_meta, "state_dict": sd, "optimizer": {"state": {}, "param_groups": []}},
                                 {}),
        "detectron2_model": ({"model": sd, "__author__": "someone", "iteration": 7}, {}),
        "nested_state_dict": ({"state_dict": {"state_dict": sd, "epoch": 3}}, {}),
        "module_prefix_legacy": ({"state_dict": state_dict_of_prefixed(sd, "module.")},
                                 {"_use_new_zipfile_serialization": False}),
    }


def state_dict_of_prefixed(sd, prefix):
    return collections.OrderedDict((prefix + k, v) for k, v in sd.items())


@pytest.mark.parametrize("variant", ["plain_zip_dict", "mmcv_meta_state_dict", "detectron2_model", "nested_state_dict",
                                     "module_prefix_legacy"])
def test_bpr_weights_round_trip_through_each_container(tmp_path, bpr_entries, bpr_subset, variant, capsys):
    # Every entry in the first layout, the quicker subset in the others.
    entries = bpr_entries if variant == "plain_zip_dict" else bpr_subset
    checkpoint, save_kwargs = _bpr_containers(state_dict_of(entries))[variant]
    source = tmp_path / "hrnet18s_128-24055c80.pth"
    torch.save(checkpoint, source, **save_kwargs)
    output = tmp_path / "bpr.safetensors"
    status, out, err = run_convert([source, output], capsys)
    assert status == 0, err
    metadata = assert_round_trip(output, entries)
    sidecar = assert_sidecar_matches_metadata(output, metadata)
    assert sidecar["arch"] == "bpr_hrnet18s"
    assert sidecar["num_classes"] == 2
    assert sidecar["classes"] == ["background", "foreground"]
    assert sidecar["num_tensors"] == len(entries)
    assert sidecar["bn_variant"] == "torch_bn_relu"
    assert sidecar["normalisation"] == "rgb"
    assert sidecar["source"] == source.name
    assert sidecar["format"] == "boundseg-weights/1"
    if variant == "mmcv_meta_state_dict":
        assert "mmcv" in sidecar["container"]
        assert sidecar["palette"] == [[0, 0, 0], [255, 255, 255]]
        assert "from the checkpoint meta" in out
    if variant == "module_prefix_legacy":
        n = len(entries)
        assert "legacy" in out and f"stripped the prefix 'module.' from {n} of {n} keys" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, "bpr.safetensors", "bpr.json"])


def test_openseg_training_checkpoint_legacy_ordereddict_with_module_prefix(tmp_path, openseg_entries, capsys):
    sd = state_dict_of(openseg_entries, prefix="module.")
    checkpoint = {"config_dict": {"network": {"model_name": "hrnet_w48_ocr", "backbone": "hrnet18"},
                                  "data": {"num_classes": 19}}, "state_dict": sd}
    source = tmp_path / "hrnet_w18_ocr_latest.pth"
    torch.save(checkpoint, source, _use_new_zipfile_serialization=False)
    output = tmp_path / "out" / "hrnet_w18_ocr.safetensors"  # a missing folder is created
    status, out, err = run_convert([source, output, "--classes", "cityscapes", "--palette", "cityscapes",
                                    "--source", "openseg.pytorch model zoo"], capsys)
    assert status == 0, err
    metadata = assert_round_trip(output, openseg_entries)
    sidecar = assert_sidecar_matches_metadata(output, metadata)
    assert sidecar["arch"] == "hrnet_w18_ocr"
    assert sidecar["num_classes"] == 19
    assert sidecar["classes"][0] == "road" and sidecar["classes"][-1] == "bicycle" and len(sidecar["classes"]) == 19
    assert sidecar["palette"] == "cityscapes" and metadata["palette"] == '"cityscapes"'
    assert sidecar["bn_variant"] == "abn_leaky"
    assert sidecar["normalisation"] == "bgr_with_rgb_stats"
    assert sidecar["source"] == "openseg.pytorch model zoo"
    assert "openseg" in sidecar["container"]
    assert "config_dict.network: hrnet_w48_ocr (hrnet18)" in out


def test_openseg_plain_ordereddict_top_level_and_keep_prefix(tmp_path, openseg_entries):
    source = tmp_path / "ckpt.pth"
    torch.save(state_dict_of(openseg_entries, prefix="module."), source)
    output = tmp_path / "kept.safetensors"
    assert run_convert([source, output, "--keep-prefix", "--arch", "hrnet_w18_ocr"]) == (0, "", "")
    got, metadata = read_safetensors(output)
    assert list(got) == ["module." + k for k in openseg_entries]
    assert metadata["arch"] == "hrnet_w18_ocr"


def test_model_prefix_is_stripped_only_when_every_key_has_it(tmp_path):
    sd = collections.OrderedDict([("model.fc.0.weight", torch.randn(8, 32)), ("model.fc.0.bias", torch.randn(8)),
                                  ("model.fc.2.weight", torch.randn(4, 8)), ("model.fc.2.bias", torch.randn(4)),
                                  ("model.fc.4.weight", torch.randn(4, 4)), ("model.fc.4.bias", torch.randn(4))])
    source = tmp_path / "distance_measures_regressor.pth"
    torch.save({"state_dict": sd}, source)
    assert run_convert([source, tmp_path / "all.safetensors", "--quiet"])[0] == 0
    got, metadata = read_safetensors(tmp_path / "all.safetensors")
    assert list(got) == [k[len("model."):] for k in sd]
    assert metadata["arch"] == "inverseform_inverse_net"
    assert metadata["bn_variant"] == "none" and metadata["normalisation"] == "none"
    assert "num_classes" not in metadata

    sd["head.weight"] = torch.randn(2, 2)
    torch.save(sd, source)
    assert run_convert([source, tmp_path / "mixed.safetensors", "--quiet"])[0] == 0
    assert list(read_safetensors(tmp_path / "mixed.safetensors")[0]) == list(sd)


def test_every_dtype_and_layout_round_trips_bit_exactly(tmp_path):
    gen = torch.Generator().manual_seed(3)
    base = torch.randn(5, 7, generator=gen, dtype=torch.float64)
    sd = collections.OrderedDict([
        ("f64", base), ("f32", base.float()), ("f16", base.half()), ("bf16", base.bfloat16()),
        ("i64", torch.randint(-2**40, 2**40, (3, 4), generator=gen)),
        ("i32", torch.tensor([-7, 2**31 - 1], dtype=torch.int32)),
        ("i16", torch.tensor([-32768, 5], dtype=torch.int16)), ("i8", torch.tensor([-128, 127], dtype=torch.int8)),
        ("u8", torch.tensor([0, 255], dtype=torch.uint8)), ("bool", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(3.5)), ("empty", torch.zeros(0, 3)), ("transposed", base.float().t()),
        ("slice", base.float()[1:4, ::2]), ("param", torch.nn.Parameter(torch.randn(2, 3, generator=gen))),
        ("nan_inf", torch.tensor([float("nan"), float("inf"), -0.0])),
    ])
    source = tmp_path / "all_dtypes.pth"
    torch.save(sd, source)
    output = tmp_path / "all_dtypes.safetensors"
    assert run_convert([source, output, "--quiet"])[0] == 0
    got, metadata = read_safetensors(output)
    assert list(got) == list(sd)
    expected_dtypes = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F32", "F32", "F32", "F32",
                       "F32", "F32"]
    assert [e.dtype for e in got.values()] == expected_dtypes
    for name, tensor in sd.items():
        assert got[name].shape == list(tensor.shape), name
        assert got[name].data == tensor_bytes(tensor), name
        assert torch.equal(got[name].to_torch(), tensor.detach()) or name == "nan_inf", name
    assert metadata["arch"] == "unknown"
    assert metadata["bn_variant"] == "none"


def test_unknown_architecture_is_reported_and_arch_can_be_given(tmp_path, capsys):
    source = tmp_path / "x.pth"
    torch.save({"encoder.weight": torch.ones(2, 2), "decoder.weight": torch.ones(2)}, source)
    status, _, err = run_convert([source, tmp_path / "x.safetensors"], capsys)
    assert status == 0
    assert "could not detect the architecture" in err and "--arch" in err
    assert json.loads((tmp_path / "x.json").read_text())["arch"] == "unknown"
    status, _, err = run_convert([source, tmp_path / "y.safetensors", "--arch", "my_net", "--num-classes", "3",
                                  "--normalisation", "rgb"], capsys)
    assert status == 0 and err == ""
    sidecar = json.loads((tmp_path / "y.json").read_text())
    assert (sidecar["arch"], sidecar["num_classes"], sidecar["normalisation"]) == ("my_net", 3, "rgb")


def test_non_tensor_entries_are_skipped_with_a_note(tmp_path, capsys):
    source = tmp_path / "odd.pth"
    torch.save({"state_dict": {"a.weight": torch.ones(3), "a.note": "hello", "a.count": 4, "b.bias": torch.zeros(1)}},
               source)
    status, out, _ = run_convert([source, tmp_path / "odd.safetensors"], capsys)
    assert status == 0
    assert "skipped 2 non-tensor entries: 'a.note' (str), 'a.count' (int)" in out
    assert list(read_safetensors(tmp_path / "odd.safetensors")[0]) == ["a.weight", "b.bias"]


def test_plain_pickle_with_numpy_arrays_detectron2_style(tmp_path):
    weights = collections.OrderedDict([
        ("backbone.res2.0.conv1.weight", np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)),
        ("sem_seg_head.predictor.bias", np.array([1.5, -2.0], dtype=np.float32)),
    ])
    source = tmp_path / "model_final.pkl"
    with open(source, "wb") as f:
        pickle.dump({"model": weights, "__author__": "Detectron2 Model Zoo", "matching_heuristics": True}, f)
    assert run_convert([source, tmp_path / "d2.safetensors", "--quiet"])[0] == 0
    got, _ = read_safetensors(tmp_path / "d2.safetensors")
    assert list(got) == list(weights)
    for name, array in weights.items():
        assert got[name].data == array.tobytes()


def test_mmcv_classes_are_checked_against_the_classifier(tmp_path, bpr_subset, capsys):
    sd = state_dict_of(bpr_subset)
    source = tmp_path / "bpr.pth"
    torch.save({"meta": {"CLASSES": ("a", "b", "c")}, "state_dict": sd}, source)
    status, _, err = run_convert([source, tmp_path / "bpr.safetensors"], capsys)
    assert status == 0 and "ignoring 3 class names" in err
    assert json.loads((tmp_path / "bpr.json").read_text())["classes"] == ["background", "foreground"]


# --------------------------------------------------------------------------------------------------------------------
# Errors


def _message(err):
    lines = [line for line in err.splitlines() if line.startswith("boundseg convert:")]
    assert lines, err
    return lines[-1]


def test_missing_input_is_an_error_naming_the_file(tmp_path, capsys):
    status, _, err = run_convert([tmp_path / "nope.pth", tmp_path / "out.safetensors"], capsys)
    assert status == 1
    assert _message(err) == f"boundseg convert: INPUT '{tmp_path / 'nope.pth'}' must be an existing file, but got no " \
                            f"such file."
    assert not (tmp_path / "out.safetensors").exists()


def test_a_file_that_is_not_a_checkpoint_is_rejected(tmp_path, capsys):
    source = tmp_path / "notes.pth"
    source.write_text("hello, I am not a checkpoint\n")
    status, _, err = run_convert([source, tmp_path / "out.safetensors"], capsys)
    assert status == 1
    message = _message(err)
    assert message.startswith(f"boundseg convert: INPUT '{source}' must be a PyTorch checkpoint")
    assert "but got a file torch.load cannot read" in message and message.endswith(".")
    truncated = tmp_path / "truncated.pth"
    torch.save({"a": torch.ones(100), "b": torch.ones(3)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    status, _, err = run_convert([truncated, tmp_path / "out.safetensors"], capsys)
    assert status == 1 and "must be a PyTorch checkpoint" in _message(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.pth", "truncated.pth"]


def test_output_equal_to_input_is_refused(tmp_path, capsys):
    source = tmp_path / "w.safetensors"
    torch.save({"a": torch.ones(2), "b": torch.ones(1)}, source)
    before = source.read_bytes()
    status, _, err = run_convert([source, tmp_path / "." / "w.safetensors"], capsys)
    assert status == 2
    assert "must differ from INPUT (the checkpoint is never overwritten)" in _message(err)
    pth = tmp_path / "w.pth"
    pth.write_bytes(before)
    status, _, err = run_convert([pth, pth], capsys)
    assert status == 2 and "must differ from INPUT" in _message(err)
    link = tmp_path / "link.safetensors"
    link.symlink_to(source)
    status, _, err = run_convert([source, link], capsys)
    assert status == 2 and "must differ from INPUT" in _message(err)
    sidecar_clash = tmp_path / "w.json"
    sidecar_clash.write_bytes(before)
    status, _, err = run_convert([sidecar_clash, tmp_path / "w2.safetensors"], capsys)
    assert status == 0
    status, _, err = run_convert([sidecar_clash, tmp_path / "w.safetensors"], capsys)
    assert status == 2 and "the side-car" in _message(err)
    assert source.read_bytes() == before and sidecar_clash.read_bytes() == before


@pytest.mark.parametrize("args, status, expected", [
    (["OUT.pt"], 2, "OUTPUT must end in .safetensors, but got"),
    (["OUT.safetensors", "--num-classes", "0"], 2, "--num-classes must be a positive integer, but got 0."),
    (["OUT.safetensors", "--num-classes", "5"], 2,
     "--num-classes must match the classifier 'decode_head.conv_seg.weight' [2, 270, 1, 1], but got 5."),
    (["OUT.safetensors", "--classes", "[\"a\"]"], 2, "--classes must list 2 names (one per class), but got 1 name."),
    (["OUT.safetensors", "--classes", "[1, 2]"], 2, "--classes must be a non-empty list of non-empty strings"),
    (["OUT.safetensors", "--classes", "kitti"], 2, "--classes must be 'cityscapes', 'voc', a JSON list"),
    (["OUT.safetensors", "--arch", "HRNet-W18"], 2, "--arch must be a lower-case snake_case name"),
    (["OUT.safetensors", "--palette", "kitti"], 2,
     "--palette must be one of cityscapes, ade20k, voc, but got 'kitti'."),
])
def test_bad_arguments_are_usage_errors(tmp_path, bpr_checkpoint, capsys, args, status, expected):
    argv = [bpr_checkpoint, tmp_path / args[0], *args[1:]]
    try:
        got_status, _, err = run_convert(argv, capsys)
    except SystemExit as e:  # argparse errors exit directly
        got_status, err = e.code, capsys.readouterr().err
    assert got_status == status
    assert expected in _message(err)
    assert not list(tmp_path.glob("*.safetensors"))


def test_checkpoints_without_tensors_or_with_clashing_names_are_rejected(tmp_path, capsys):
    source = tmp_path / "empty.pth"
    torch.save({"epoch": 3, "optimizer": {"lr": 0.1}}, source)
    status, _, err = run_convert([source, tmp_path / "o.safetensors"], capsys)
    assert status == 1 and "must contain tensors in a state dict" in _message(err)
    torch.save({"module.a": torch.ones(1), "a": torch.zeros(1)}, source)
    status, _, err = run_convert([source, tmp_path / "o.safetensors"], capsys)
    assert status == 1
    assert _message(err) == ("boundseg convert: tensor names must be unique after stripping prefixes, but got 'a' "
                             "twice (entries 0 and 1). Rerun with --keep-prefix.")
    torch.save({"c": torch.ones(2, dtype=torch.complex64), "d": torch.ones(1)}, source)
    status, _, err = run_convert([source, tmp_path / "o.safetensors"], capsys)
    assert status == 1 and "tensor 'c' must have a dtype safetensors holds" in _message(err)
    assert not (tmp_path / "o.safetensors").exists()


def test_command_line_exit_status_and_message(tmp_path):
    """The script as a program (what `boundseg convert` runs)."""
    missing = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "missing.pth"),
                              str(tmp_path / "o.safetensors")], capture_output=True, text=True)
    assert missing.returncode == 1
    assert missing.stderr.strip().endswith("must be an existing file, but got no such file.")
    usage = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert usage.returncode == 2 and "boundseg convert:" in usage.stderr
