#!/usr/bin/python3
"""Convert a PyTorch checkpoint (.pth) into boundseg's weight format: safetensors plus a JSON side-car.

boundseg loads weights only from safetensors (formats.md §7.3). Upstream checkpoints come in containers LibTorch cannot
read (legacy pre-1.6 pickles, OrderedDicts, mmcv {meta, state_dict}, detectron2 {model, ...}), so they are converted
once here, with Python and torch:

    /usr/bin/python3 tools/convert_checkpoint.py hrnet18s_128-24055c80.pth bpr_hrnet18s.safetensors

What it does, in order:
  1. torch.load(INPUT, map_location='cpu') (zip or legacy serialisation; plain pickles such as detectron2 .pkl too);
  2. finds the state dict inside the container ('state_dict', 'model', nested 'state_dict', or the object itself);
  3. strips the DataParallel prefix 'module.' (and 'model.' when every key carries it) unless --keep-prefix;
  4. keeps tensors only (numpy arrays become tensors; anything else is skipped with a note);
  5. detects the architecture from the key names unless --arch is given, and the class count from the classifier;
  6. writes OUTPUT (safetensors, tensors in checkpoint order) and the side-car OUTPUT with the suffix .json, both
     atomically (temporary file + rename).

Side-car keys: format, arch, num_classes, classes, palette, source, num_tensors, bn_variant, normalisation, container.
The same values are stored in the safetensors "__metadata__" (string -> string): plain text for arch, source,
bn_variant, normalisation, container and format; decimal text for num_classes and num_tensors; JSON text for classes
(a list of names) and palette (a built-in palette name as a JSON string, or a list of [r, g, b]). Unknown values are
null in the side-car and absent from the metadata.

Exit status: 0 on success, 1 when the input cannot be converted (missing, unreadable, no tensors, unsupported dtype),
2 for usage errors (bad arguments, OUTPUT equal to INPUT, options contradicting the checkpoint). Errors read
"boundseg convert: <argument> must <requirement>, but got <actual>."

torch.load unpickles arbitrary Python objects: convert only checkpoints from sources you trust.
"""
import argparse
import collections.abc
import json
import os
import pickle
import re
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

FORMAT_VERSION = "boundseg-weights/1"

# safetensors dtype names (formats.md §7.4), filled in once torch is imported.
_DTYPE_NAMES = {}

CITYSCAPES_CLASSES = [
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation", "terrain",
    "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
]
VOC_CLASSES = [
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
    "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
]
CLASS_PRESETS = {"cityscapes": CITYSCAPES_CLASSES, "voc": VOC_CLASSES}
PALETTES = ("cityscapes", "ade20k", "voc")

# Input normalisation each checkpoint family was trained with (segfix.md §4, bpr.md §4.1).
NORMALISATION_BY_FAMILY = {
    "openseg": "bgr_with_rgb_stats",  # cv2 BGR / 255, ImageNet RGB mean/std applied to B, G, R in that order
    "mmseg": "rgb",                   # RGB, ImageNet mean/std on the 0..255 scale
    "inverseform_net": "none",        # inputs are edge-map tiles, not images
    "unknown": "unknown",
}


class ConvertError(Exception):
    """A conversion failure with the house message form and the exit status to return."""

    def __init__(self, argument, requirement, actual, status=1, remedy=None):
        message = f"boundseg convert: {argument} must {requirement}, but got {actual}."
        if remedy:
            message += " " + remedy
        super().__init__(message)
        self.status = status


def usage_error(argument, requirement, actual, remedy=None):
    """A ConvertError with exit status 2 (the arguments, not the file, are wrong)."""
    return ConvertError(argument, requirement, actual, status=2, remedy=remedy)


class Report:
    """Collects the human-readable conversion report (printed unless --quiet)."""

    def __init__(self, quiet):
        self.quiet = quiet

    def __call__(self, text):
        if not self.quiet:
            print(text, flush=True)

    @staticmethod
    def warn(text):
        print(f"boundseg convert: warning: {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------------------
# Loading and unwrapping


_TORCH = None


def _import_torch():
    """Imports torch once, with a clear message when it is missing (Debian: apt-get install python3-torch)."""
    global _TORCH
    if _TORCH is not None:
        return _TORCH
    try:
        import torch
    except ImportError as e:
        raise ConvertError("python3", "provide the 'torch' package (Debian: python3-torch)",
                           f"{sys.executable} without it ({e})") from e
    _DTYPE_NAMES.update({
        torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
        torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
        torch.bool: "BOOL",
    })
    _TORCH = torch
    return torch


def describe_serialisation(path):
    """Names the on-disk format: the zip archive of torch >= 1.6, or the legacy (0.4-1.5) / plain pickle stream."""
    if zipfile.is_zipfile(path):
        return "zip archive (torch >= 1.6 serialisation)"
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:1] == b"\x80":
        return "legacy (non-zip) serialisation"
    return "unknown serialisation"


def load_checkpoint(path):
    """Loads a checkpoint on the CPU. Plain pickles (detectron2 .pkl) are read when torch.load rejects them."""
    source = f"INPUT '{path}'"
    if not path.exists():
        raise ConvertError(source, "be an existing file", "no such file")
    if not path.is_file():
        raise ConvertError(source, "be a regular file", "a directory" if path.is_dir() else "a special file")
    torch = _import_torch()
    try:
        return torch.load(str(path), map_location="cpu")
    except Exception as torch_error:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for bad files
        first_error = f"{type(torch_error).__name__}: {torch_error}".strip().splitlines()[0]
        if "Invalid magic number" in first_error:
            # Not a torch.save stream but possibly a plain pickle (detectron2 model-zoo .pkl files).
            try:
                with open(path, "rb") as f:
                    return pickle.load(f, encoding="latin1")
            except Exception:  # fall through to the torch error, which is the more useful one
                pass
        if isinstance(torch_error, (ModuleNotFoundError, AttributeError)):
            raise ConvertError(source, "be loadable without the training code (a state dict, not a pickled model)",
                               f"a pickle that needs Python code that is not installed ({first_error})") from None
        raise ConvertError(source, "be a PyTorch checkpoint (torch.save zip or legacy file, or a pickle)",
                           f"a file torch.load cannot read ({first_error})") from None


def _is_tensor_like(value):
    """True for torch tensors and numpy arrays (detectron2 .pkl weights are numpy)."""
    torch = _import_torch()
    if isinstance(value, torch.Tensor):
        return True
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, np.ndarray)


def _tensor_count(mapping):
    return sum(1 for v in mapping.values() if _is_tensor_like(v))


def _describe_keys(mapping, limit=8):
    keys = [repr(k) for k in list(mapping.keys())[:limit]]
    more = f", ... ({len(mapping)} in all)" if len(mapping) > limit else ""
    return "{" + ", ".join(keys) + more + "}"


# Container keys that hold the state dict, in order of preference: openseg / mmcv / mmengine / BPR use 'state_dict',
# detectron2 'model'; a few training scripts use 'model_state_dict' or 'net'.
_STATE_DICT_KEYS = ("state_dict", "model", "model_state_dict", "net")


def find_state_dict(obj):
    """Returns (state_dict, path, container, hints) for a loaded checkpoint.

    path: how the state dict was reached, e.g. "['state_dict']"; container: a short description of the layout;
    hints: what the container says about the model (classes, palette, model name), possibly empty.
    """
    torch = _import_torch()
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict(), ".state_dict()", "a pickled nn.Module", {}
    if not isinstance(obj, collections.abc.Mapping):
        raise ConvertError("INPUT", "hold a state dict (a mapping of names to tensors) or a dict containing one",
                           f"a {type(obj).__name__}")
    top_keys = set(k for k in obj.keys() if isinstance(k, str))
    hints = _container_hints(obj)
    if "config_dict" in top_keys and "state_dict" in top_keys:
        container = "openseg training checkpoint {config_dict, state_dict}"
    elif "meta" in top_keys and "state_dict" in top_keys:
        container = "mmcv/mmseg checkpoint {meta, state_dict}"
    elif "model" in top_keys and not _is_tensor_like(obj.get("model")):
        container = "detectron2-style checkpoint {model, ...}"
    elif "state_dict" in top_keys and not _is_tensor_like(obj.get("state_dict")):
        container = "dict with 'state_dict'"
    else:
        container = "plain state dict"

    path = ""
    current = obj
    for _ in range(4):  # nested containers: {'state_dict': {'state_dict': ...}} occurs in re-saved checkpoints
        inner_key = next((k for k in _STATE_DICT_KEYS
                          if isinstance(current.get(k), collections.abc.Mapping) and current.get(k)), None)
        if inner_key is None or (_tensor_count(current) > 0 and _tensor_count(current) >= len(current) // 2):
            break
        path += f"[{inner_key!r}]"
        current = current[inner_key]
    if path.count("[") > 1:
        container += f", nested {path}"
    if _tensor_count(current) == 0:
        raise ConvertError("INPUT", "contain tensors in a state dict (top level, 'state_dict' or 'model')",
                           f"a {type(obj).__name__} without tensors, keys {_describe_keys(obj)}")
    return current, path or "(top level)", container, hints


def _container_hints(obj):
    """Classes, palette and model name recorded by the training framework, when present."""
    hints = {}
    meta = obj.get("meta")
    if isinstance(meta, collections.abc.Mapping):
        dataset_meta = meta.get("dataset_meta") if isinstance(meta.get("dataset_meta"), collections.abc.Mapping) \
            else {}
        classes = meta.get("CLASSES", dataset_meta.get("classes"))
        palette = meta.get("PALETTE", dataset_meta.get("palette"))
        if isinstance(classes, (list, tuple)) and classes and all(isinstance(c, str) for c in classes):
            hints["classes"] = (list(classes), "meta")
        if isinstance(palette, (list, tuple)) and palette:
            hints["palette"] = (palette, "meta")
    config = obj.get("config_dict")
    if isinstance(config, collections.abc.Mapping):
        network = config.get("network") if isinstance(config.get("network"), collections.abc.Mapping) else {}
        data = config.get("data") if isinstance(config.get("data"), collections.abc.Mapping) else {}
        if isinstance(network.get("model_name"), str):
            hints["model_name"] = (network["model_name"] + (f" ({network['backbone']})"
                                                            if isinstance(network.get("backbone"), str) else ""),
                                   "config_dict.network")
        if isinstance(data.get("num_classes"), int):
            hints["num_classes"] = (data["num_classes"], "config_dict.data.num_classes")
    return hints


# --------------------------------------------------------------------------------------------------------------------
# Keys and tensors


def _strip(key, prefix):
    while key.startswith(prefix):
        key = key[len(prefix):]
    return key


def clean_state_dict(state_dict, keep_prefix, report):
    """Returns [(name, tensor)] in checkpoint order: prefixes stripped, non-tensors skipped, contiguous CPU tensors."""
    torch = _import_torch()
    items, skipped = [], []
    for key, value in state_dict.items():
        if not isinstance(key, str):
            skipped.append(f"{key!r} (non-string key)")
            continue
        if not _is_tensor_like(value):
            skipped.append(f"'{key}' ({type(value).__name__})")
            continue
        if not isinstance(value, torch.Tensor):
            import numpy as np
            value = torch.from_numpy(np.ascontiguousarray(value))
        items.append((key, value))
    if skipped:
        shown = ", ".join(skipped[:5]) + (f", ... ({len(skipped)} in all)" if len(skipped) > 5 else "")
        report(f"  skipped {len(skipped)} non-tensor entr{'y' if len(skipped) == 1 else 'ies'}: {shown}")

    if not keep_prefix:
        n_module = sum(1 for k, _ in items if k.startswith("module."))
        if n_module:
            items = [(_strip(k, "module."), v) for k, v in items]
            report(f"  stripped the prefix 'module.' from {n_module} of {len(items)} keys")
        # 'model.' only when every key carries it: elsewhere it may be a real submodule name.
        if items and all(k.startswith("model.") for k, _ in items):
            items = [(k[len("model."):], v) for k, v in items]
            report(f"  stripped the prefix 'model.' from all {len(items)} keys")

    seen = {}
    out = []
    for original_index, (key, value) in enumerate(items):
        if key == "" or key == "__metadata__":
            raise ConvertError("tensor names", "be non-empty and not '__metadata__'", f"'{key}'")
        if key in seen:
            raise ConvertError("tensor names", "be unique after stripping prefixes",
                               f"'{key}' twice (entries {seen[key]} and {original_index})",
                               remedy="Rerun with --keep-prefix.")
        seen[key] = original_index
        out.append((key, _as_plain_tensor(key, value)))
    return out


def _as_plain_tensor(name, tensor):
    """A detached, dense, contiguous CPU tensor of a dtype safetensors can hold."""
    if tensor.is_sparse or tensor.layout != _import_torch().strided:
        raise ConvertError(f"tensor '{name}'", "be dense (strided)", f"layout {tensor.layout}")
    if tensor.is_quantized:
        raise ConvertError(f"tensor '{name}'", "be a plain (not quantized) tensor", f"dtype {tensor.dtype}")
    if tensor.dtype not in _DTYPE_NAMES:
        raise ConvertError(f"tensor '{name}'", "have a dtype safetensors holds (" + ", ".join(
            str(d).replace("torch.", "") for d in _DTYPE_NAMES) + ")", f"{tensor.dtype}")
    return tensor.detach().to("cpu").contiguous()


# --------------------------------------------------------------------------------------------------------------------
# Architecture detection


def _shape(tensors, key):
    t = tensors.get(key)
    return list(t.shape) if t is not None else None


def _hrnet_width(tensors, prefix):
    """Width W of an HRNet (channels of branch 0): from the first stage-2 block or transition1."""
    for key in (f"{prefix}stage2.0.branches.0.0.conv1.weight", f"{prefix}transition1.0.0.weight"):
        shape = _shape(tensors, key)
        if shape:
            return shape[0]
    return None


def _hrnet_name(tensors, prefix):
    """'hrnet2x20' for HighResolutionNext, else 'hrnet_w<W>' (+ '_small' for a 2-block layer1, mmseg W18-small)."""
    keys = tensors.keys()
    width = _hrnet_width(tensors, prefix)
    if any(k.startswith(f"{prefix}transition0.") for k in keys):
        return f"hrnet2x{width}", f"{prefix}transition0 (HighResolutionNext)"
    layer1_blocks = len({k[len(prefix):].split(".")[1] for k in keys if k.startswith(f"{prefix}layer1.")})
    small = 0 < layer1_blocks < 4
    name = f"hrnet_w{width}" + ("_small" if small else "")
    return name, f"branch-0 width {width}, {layer1_blocks} layer1 blocks"


def _last_conv_out(tensors, pattern):
    """Output channels of the highest-index conv matching `pattern` (a regex with one group, the index)."""
    best = None
    for key, t in tensors.items():
        m = re.fullmatch(pattern, key)
        if m and t.dim() == 4 and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), key)
    return (tensors[best[1]].shape[0], best[1]) if best else (None, None)


def detect_architecture(tensors):
    """Returns dict(arch, family, evidence, num_classes, num_classes_key) from the key names and shapes.

    arch is None when the keys match no known layout. Families: openseg (HRNet/OCR/SegFix, openseg.pytorch), mmseg
    (BPR, mmseg OCRNet), inverseform_net (the InverseForm inverse transformation net).
    """
    keys = list(tensors.keys())
    has = lambda prefix: any(k.startswith(prefix) for k in keys)  # noqa: E731
    result = dict(arch=None, family="unknown", evidence="no known key pattern", num_classes=None, num_classes_key=None)

    def classes_from(key):
        shape = _shape(tensors, key)
        if shape:
            result.update(num_classes=shape[0], num_classes_key=key)

    fc_keys = {f"fc.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")}
    if "fc.0.weight" in tensors and set(keys) <= fc_keys:
        in_features = tensors["fc.0.weight"].shape[1]
        small = in_features == 2 * 112 * 112
        result.update(arch="inverseform_small_inverse_net" if small else "inverseform_inverse_net",
                      family="inverseform_net", evidence=f"only fc.{{0,2,4}} keys, fc.0 in_features {in_features}")
        return result

    if has("backbone.stage4.") or has("backbone.stage3."):
        backbone, backbone_evidence = _hrnet_name(tensors, "backbone.")
        if "backbone.conv_mask.weight" in tensors and has("decode_head."):
            width = backbone.replace("hrnet_w", "").replace("_small", "")
            arch = f"bpr_hrnet{width}{'s' if backbone.endswith('_small') else ''}"
            result.update(arch=arch, family="mmseg",
                          evidence=f"backbone.conv_mask + decode_head (BPR HRNetRefine), {backbone_evidence}")
            classes_from("decode_head.conv_seg.weight")
        elif has("decode_head."):
            ocr = has("decode_head.1.object_context_block.") or has("decode_head.1.bottleneck.")
            result.update(arch=f"mmseg_{'ocrnet' if ocr else 'fcn'}_{backbone}", family="mmseg",
                          evidence=f"backbone + decode_head (mmseg EncoderDecoder), {backbone_evidence}")
            n, key = _last_conv_out(tensors, r"decode_head\.(\d+)\.conv_seg\.weight")
            if key:
                result.update(num_classes=n, num_classes_key=key)
            else:
                classes_from("decode_head.conv_seg.weight")
        elif has("ocr_distri_head."):
            b_variant = (_shape(tensors, "conv3x3.0.weight") or [512])[0] == 256
            arch = backbone + "_ocr" + ("_b" if b_variant else "")
            result.update(arch=arch, family="openseg",
                          evidence=f"backbone.stage4 + ocr_distri_head (openseg HRNet OCR), {backbone_evidence}")
            classes_from("cls_head.weight")
        elif has("mask_head.") and has("dir_head."):
            result.update(arch=f"segfix_{backbone}", family="openseg",
                          evidence=f"backbone + mask_head + dir_head (openseg SegFix), {backbone_evidence}")
        elif has("ocr.ocr_distri_head.") or has("ocr.cls_head."):
            result.update(arch=f"inverseform_ocrnet_{backbone}", family="mmseg",
                          evidence=f"backbone + ocr.* (NVIDIA/InverseForm OCRNet), {backbone_evidence}")
            classes_from("ocr.cls_head.weight")
        elif has("cls_head."):
            result.update(arch=backbone, family="openseg",
                          evidence=f"backbone + cls_head (openseg HRNet baseline), {backbone_evidence}")
            n, key = _last_conv_out(tensors, r"cls_head\.(\d+)\.weight")
            if key:
                result.update(num_classes=n, num_classes_key=key)
        else:
            result.update(arch=f"{backbone}_backbone", family="openseg",
                          evidence=f"backbone.* keys only, {backbone_evidence}")
        return result

    if has("stage4.") and "conv1.weight" in tensors:
        backbone, backbone_evidence = _hrnet_name(tensors, "")
        result.update(arch=f"{backbone}_imagenet", family="openseg",
                      evidence=f"unprefixed stage4 keys (ImageNet HRNet; classification head not used), "
                               f"{backbone_evidence}")
        return result
    return result


def bn_variant(tensors):
    """abn_leaky: InPlaceABN naming (no num_batches_tracked, heads with LeakyReLU 0.01); torch_bn_relu otherwise."""
    if any(k.endswith("num_batches_tracked") for k in tensors):
        return "torch_bn_relu"
    if any(k.endswith("running_mean") for k in tensors):
        return "abn_leaky"
    return "none"


# --------------------------------------------------------------------------------------------------------------------
# Writing


def safetensors_header(items, metadata):
    """The padded header bytes (length prefix included) for [(name, tensor)] packed in order."""
    _import_torch()  # fills _DTYPE_NAMES, also when this is the first function a caller uses
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, tensor in items:
        size = tensor.numel() * tensor.element_size()
        header[name] = {"dtype": _DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def _tensor_bytes(tensor):
    """A zero-copy little-endian byte view of a contiguous CPU tensor (bfloat16 included)."""
    torch = _import_torch()
    flat = tensor.reshape(-1)
    if flat.numel() == 0:
        return b""
    return memoryview(flat.view(torch.uint8).numpy()).cast("B")


def _write_atomic(path, write):
    """Calls write(file) on a temporary file beside `path`, then renames it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, str(path))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_safetensors(path, items, metadata):
    """Writes [(name, tensor)] and the metadata (str -> str) as safetensors, atomically."""
    if sys.byteorder != "little":
        raise ConvertError("this machine", "be little-endian (safetensors stores little-endian data)", "big-endian")

    def write(f):
        f.write(safetensors_header(items, metadata))
        for _, tensor in items:
            f.write(_tensor_bytes(tensor))

    _write_atomic(path, write)


def metadata_strings(info):
    """The side-car values as safetensors metadata strings (see the module docstring)."""
    out = {}
    for key, value in info.items():
        if value is None:
            continue
        if key in ("classes", "palette"):
            out[key] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        else:
            out[key] = str(value)
    return out


# --------------------------------------------------------------------------------------------------------------------
# Command line


def _num_classes(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"boundseg convert: --num-classes must be a positive integer, but got '{text}'.") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"boundseg convert: --num-classes must be a positive integer, but got {value}.")
    return value


def _palette(text):
    if text not in PALETTES:
        raise argparse.ArgumentTypeError(
            f"boundseg convert: --palette must be one of {', '.join(PALETTES)}, but got '{text}'.")
    return text


def parse_classes(text):
    """--classes: a preset (cityscapes, voc), a JSON list of names, or the path of a JSON file holding one."""
    if text in CLASS_PRESETS:
        return list(CLASS_PRESETS[text])
    source = text
    if not text.lstrip().startswith("["):
        path = Path(text)
        if not path.is_file():
            raise usage_error("--classes", "be 'cityscapes', 'voc', a JSON list of names or a JSON file holding one",
                              f"'{text}' (neither a preset nor an existing file)")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise usage_error("--classes", "name a readable UTF-8 JSON file", f"'{source}' ({e})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise usage_error("--classes", "be valid JSON", f"'{source}' ({e})") from None
    if isinstance(value, dict) and "classes" in value:
        value = value["classes"]
    if not (isinstance(value, list) and value and all(isinstance(c, str) and c for c in value)):
        raise usage_error("--classes", "be a non-empty list of non-empty strings", f"{json.dumps(value)[:80]}")
    return value


def _palette_from_hint(palette):
    """A container palette as a list of [r, g, b] ints in 0..255, or None when it is not one."""
    try:
        colours = [[int(c) for c in colour] for colour in palette]
    except (TypeError, ValueError):
        return None
    if all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in colours):
        return colours
    return None


class _Parser(argparse.ArgumentParser):
    """argparse with the house error form and exit status 2."""

    def error(self, message):
        self.print_usage(sys.stderr)
        start = message.find("boundseg convert:")
        text = message[start:] if start >= 0 else f"boundseg convert: {message}"
        print(text, file=sys.stderr)
        sys.exit(2)


def build_parser():
    p = _Parser(prog="convert_checkpoint.py",
                description="Convert a PyTorch checkpoint into boundseg weights (safetensors + JSON side-car).")
    p.add_argument("input", metavar="INPUT", help="checkpoint (.pth, .pt, .pkl): zip or legacy torch.save, or pickle")
    p.add_argument("output", metavar="OUTPUT", help="weights to write, ending in .safetensors (side-car: .json)")
    p.add_argument("--arch", help="architecture name (default: detected from the key names)")
    p.add_argument("--num-classes", type=_num_classes, help="number of classes (default: from the classifier)")
    p.add_argument("--classes", help="class names: cityscapes, voc, a JSON list, or a JSON file")
    p.add_argument("--palette", type=_palette, metavar="{" + ",".join(PALETTES) + "}",
                   help="built-in palette for renderings")
    p.add_argument("--normalisation", help="input normalisation convention (default: by checkpoint family, e.g. "
                                           "bgr_with_rgb_stats for openseg, rgb for mmseg/BPR)")
    p.add_argument("--source", help="where the checkpoint comes from (default: the input file name)")
    p.add_argument("--keep-prefix", action="store_true", help="keep 'module.' / 'model.' key prefixes")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    return p


def _check_paths(input_path, output_path, sidecar_path):
    """OUTPUT and its side-car must not be INPUT (also through links), and OUTPUT must end in .safetensors."""
    for what, target in (("OUTPUT", output_path), ("the side-car", sidecar_path)):
        same = target.resolve() == input_path.resolve()
        if not same and target.exists() and input_path.exists():
            same = os.path.samefile(str(target), str(input_path))
        if same:
            raise usage_error(f"{what} '{target}'", "differ from INPUT (the checkpoint is never overwritten)",
                              f"the input file '{input_path}'")
    if output_path.suffix != ".safetensors":
        raise usage_error("OUTPUT", "end in .safetensors", f"'{output_path}'")
    if output_path.is_dir():
        raise usage_error("OUTPUT", "be a file path", f"the directory '{output_path}'")


def convert(args):
    """Runs one conversion; returns the side-car dict. Raises ConvertError on bad input."""
    report = Report(args.quiet)
    input_path = Path(args.input)
    output_path = Path(args.output)
    sidecar_path = output_path.with_suffix(".json")
    _check_paths(input_path, output_path, sidecar_path)
    if args.arch is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_]*", args.arch):
        raise usage_error("--arch", "be a lower-case snake_case name (e.g. hrnet_w48_ocr)", f"'{args.arch}'")
    classes = parse_classes(args.classes) if args.classes is not None else None

    checkpoint = load_checkpoint(input_path)
    report(f"read {input_path}: {describe_serialisation(input_path)}")
    state_dict, where, container, hints = find_state_dict(checkpoint)
    report(f"  container: {container}; state dict at {where} "
           f"({type(state_dict).__name__}, {len(state_dict)} entries)")
    if "model_name" in hints:
        report(f"  {hints['model_name'][1]}: {hints['model_name'][0]}")
    items = clean_state_dict(state_dict, args.keep_prefix, report)
    del checkpoint, state_dict
    tensors = dict(items)

    detected = detect_architecture(tensors)
    if args.arch:
        arch = args.arch
        if detected["arch"] and detected["arch"] != arch:
            Report.warn(f"--arch {arch} given, but the key names look like {detected['arch']} ({detected['evidence']})")
        report(f"  architecture: {arch} (from --arch)")
    elif detected["arch"]:
        arch = detected["arch"]
        report(f"  architecture: {arch} (detected: {detected['evidence']})")
    else:
        arch = "unknown"
        first = ", ".join(k for k, _ in items[:4])
        Report.warn(f"could not detect the architecture from the key names (first keys: {first}); "
                    f"recording arch 'unknown'. Pass --arch NAME to name it.")

    num_classes = detected["num_classes"]
    if args.num_classes is not None:
        if num_classes is not None and num_classes != args.num_classes:
            key = detected["num_classes_key"]
            raise usage_error("--num-classes", f"match the classifier '{key}' {list(tensors[key].shape)}",
                              f"{args.num_classes}")
        num_classes = args.num_classes
    elif num_classes is not None:
        report(f"  num_classes: {num_classes} (from {detected['num_classes_key']})")
    elif "num_classes" in hints:
        num_classes = hints["num_classes"][0]
        report(f"  num_classes: {num_classes} (from {hints['num_classes'][1]})")

    if classes is None and "classes" in hints:
        hinted = hints["classes"][0]
        if num_classes is None or len(hinted) == num_classes:
            classes = hinted
            report(f"  classes: {len(classes)} names from the checkpoint {hints['classes'][1]}")
        else:
            Report.warn(f"ignoring {len(hinted)} class names in the checkpoint {hints['classes'][1]}: "
                        f"the classifier has {num_classes} outputs")
    if classes is None and detected["arch"] and detected["arch"].startswith("bpr_") and num_classes == 2:
        classes = ["background", "foreground"]
    if classes is not None:
        if num_classes is None:
            num_classes = len(classes)
        elif len(classes) != num_classes:
            raise usage_error("--classes", f"list {num_classes} names (one per class)",
                              f"{len(classes)} name{'' if len(classes) == 1 else 's'}")

    palette = args.palette
    if palette is None and "palette" in hints:
        colours = _palette_from_hint(hints["palette"][0])
        if colours is not None and (num_classes is None or len(colours) >= num_classes):
            palette = colours
            report(f"  palette: {len(colours)} colours from the checkpoint {hints['palette'][1]}")

    normalisation = args.normalisation or NORMALISATION_BY_FAMILY[detected["family"]]
    bn = bn_variant(tensors)
    info = {
        "format": FORMAT_VERSION,
        "arch": arch,
        "num_classes": num_classes,
        "classes": classes,
        "palette": palette,
        "source": args.source if args.source is not None else input_path.name,
        "num_tensors": len(items),
        "bn_variant": bn,
        "normalisation": normalisation,
        "container": container,
    }
    report(f"  bn_variant: {bn}; normalisation: {normalisation}")

    write_safetensors(output_path, items, metadata_strings(info))
    sidecar_text = json.dumps(info, indent=2, ensure_ascii=False) + "\n"
    _write_atomic(sidecar_path, lambda f: f.write(sidecar_text.encode("utf-8")))
    total = sum(t.numel() * t.element_size() for _, t in items)
    report(f"wrote {output_path} ({len(items)} tensors, {total / 1e6:.1f} MB) and {sidecar_path}")
    return info


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        convert(args)
    except ConvertError as e:
        print(str(e), file=sys.stderr)
        return e.status
    except OSError as e:
        print(f"boundseg convert: '{e.filename or '?'}' must be accessible, but got {e.strerror or e}.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
