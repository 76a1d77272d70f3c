#!/usr/bin/env python3
"""Runs the golden tests on a renamed and reduced copy of the golden set (issue 12, item 8).

The golden tests discover their cases (STYLE.md §2.7): the same suite runs on other case sets made by the same
reference drivers. This script shows it. It copies the golden tree to a temporary folder, renames the cases of every
area the tests read (file names and every reference to them in the index JSONs, txt files and manifests, so that the
set stays consistent; Cityscapes stems become other <city>_<seq>_<frame> stems), drops some of them (where an area
has more than one case for a test, or drops entries of per-scene and per-threshold tables where the aggregate results
need every scene), runs the golden tests with BOUNDSEG_GOLDEN_DIR pointing at the copy and prints the number of cases
each test checked, next to the counts on the original set with --compare. It fails when a golden test fails, prints no
count or checks nothing, or when the copy changed no count (then the reduction did not take).

    tests/golden_variant.py --tests build/tests/boundseg_tests [--cli build/boundseg] [--compare] [--keep DIR]
                            [--configured-golden ../shared/golden]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TEXT_SUFFIXES = {".json", ".txt", ".md"}
# Areas read by the golden tests; the others are copied as they are.
AREAS = ("boundary", "segfix", "rloss", "metrics", "models")
COUNT_LINE = re.compile(r"^\[  golden  \] (\S+): checked (\d+) (.*)$")
RUN_LINE = re.compile(r"^\[ RUN      \] (\S+)$")


def golden_source(configured):
    """The set the tests read: BOUNDSEG_GOLDEN_DIR overrides the configured path, as in tests/support/golden.cpp."""
    env = os.environ.get("BOUNDSEG_GOLDEN_DIR")
    if env:
        return Path(env)
    return configured or Path(__file__).resolve().parents[2] / "shared" / "golden"


def stems(folder, suffix):
    """Names less `suffix` of the files in `folder` ending with it, sorted."""
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(suffix)] for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix))


def every_other(items, keep_first=True):
    """The items at odd positions (dropped), so that at least the first one stays."""
    return [x for i, x in enumerate(items) if i % 2 == (1 if keep_first else 0)]


class Area:
    """Renames (token -> new token) and drops (tokens) of one golden area. A token is a case name as it appears in
    file names and texts, delimited by characters other than letters and digits."""

    def __init__(self, renames, drops=()):
        self.renames = dict(renames)
        self.drops = set(drops)
        tokens = sorted(self.renames, key=len, reverse=True)  # longest first: m61x113_border_255 before m61x113
        alternatives = "|".join(re.escape(t) for t in tokens) or r"(?!x)x"
        self.pattern = re.compile(r"(?<![A-Za-z0-9])(" + alternatives + r")(?![A-Za-z0-9])")

    def tokens_in(self, text):
        return set(self.pattern.findall(text))

    def rename(self, text):
        return self.pattern.sub(lambda m: self.renames[m.group(1)], text)

    def dropped(self, relative):
        return bool(self.tokens_in(relative) & self.drops)


def cityscapes_stem(i):
    cities = ["zurich", "weimar", "ulm", "jena", "erfurt", "tubingen", "krefeld", "hanover"]
    return f"{cities[i % len(cities)]}_{100 + i:06d}_{42 + i:06d}"


def plan(source):
    """The renames and drops per area, derived from what the golden set holds (its naming patterns, MANIFEST.md)."""
    areas = {}
    boundary = source / "boundary"
    index = json.loads((boundary / "mask_to_boundary" / "index.json").read_text())
    masks = sorted({Path(c["input"]).stem for c in index})
    bmaps = stems(boundary / "seg2bmap", ".png")
    labels = stems(boundary / "labels", ".png")
    renames = {m: f"variant_mask{i}" for i, m in enumerate(masks)}
    renames.update({m: f"variant_labels{i}" for i, m in enumerate(labels)})
    # Half the masks (and with them their bands and seg2bmap maps), at least one seg2bmap mask kept; half the maps.
    dropped_masks = [m for m in every_other(masks, keep_first=False) if m != (bmaps[0] if bmaps else None)]
    areas["boundary"] = Area(renames, dropped_masks + every_other(labels))

    segfix = source / "segfix"
    scenes = stems(segfix / "inputs", "_labelIds.png")
    # Instance refinement uses Cityscapes stems <scene with '-'>_<seq>_<frame>: its "city" part is the token.
    cities = sorted({s.split("_")[0] for s in stems(segfix / "refine_instance" / "input", "_pred.txt")})
    preds = stems(segfix / "offsets", ".safetensors")
    renames = {s: f"variant_scene{i}" for i, s in enumerate(scenes)}
    renames.update({c: f"variantcity{i}" for i, c in enumerate(cities)})
    renames.update({p: f"variant_pred{i}" for i, p in enumerate(preds)})
    dropped = every_other(scenes)
    dropped += [c for c in cities if c.replace("-", "_") in dropped]
    areas["segfix"] = Area(renames, dropped + every_other(preds))

    rloss = source / "rloss"
    filters, losses = stems(rloss / "filter", ".safetensors"), stems(rloss / "loss", ".safetensors")
    renames = {f: f"variant_filter{i}" for i, f in enumerate(filters)}
    renames.update({f: f"variant_loss{i}" for i, f in enumerate(losses)})
    areas["rloss"] = Area(renames, every_other(filters) + every_other(losses))

    metrics = source / "metrics"
    scenes = stems(metrics / "inputs", "_gtFine_labelIds.png") + stems(metrics / "inputs" / "edge_cases",
                                                                        "_gtFine_labelIds.png")
    # Aggregate results need every scene: nothing is dropped here, the tables are reduced in reduce_metrics.
    areas["metrics"] = Area({s: cityscapes_stem(i) for i, s in enumerate(scenes)})

    models = source / "models"
    cases = stems(models, "_io.safetensors") + stems(models, "_losses.safetensors")
    areas["models"] = Area({c: f"variant_model{i}" for i, c in enumerate(cases)})
    return areas


def reduce_metrics(folder):
    """Drops every other entry of the per-scene, per-threshold and per-ratio tables; the aggregates stay."""
    def rewrite(name, change):
        path = folder / name
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data, indent=1))

    def drop_keys(table):
        for key in every_other(list(table)):
            del table[key]

    rewrite("pixel_level_per_image.json", drop_keys)
    rewrite("pixel_level_edge_cases.json", lambda d: drop_keys(d["per_image"]))

    def fscore(d):
        drop_keys(d["thresholds"])
        for entry in d["thresholds"].values():
            drop_keys(entry["per_image_F_P"])
    rewrite("boundary_fscore.json", fscore)

    def biou(d):
        for key in every_other([k for k in d if k.startswith("ratio_")]):
            del d[key]
        for key, entry in d.items():
            if key.startswith("ratio_"):
                drop_keys(entry["per_image_I_U"])
    rewrite("semantic_boundary_iou.json", biou)


def drop_references(value, dropped):
    """`value` without the list entries that name a dropped file (e.g. index.json rows)."""
    if isinstance(value, list):
        kept = []
        for item in value:
            strings = [v for v in (item.values() if isinstance(item, dict) else [item]) if isinstance(v, str)]
            if not any(s in dropped for s in strings):
                kept.append(drop_references(item, dropped))
        return kept
    if isinstance(value, dict):
        return {k: drop_references(v, dropped) for k, v in value.items()}
    return value


def make_variant(source, target):
    areas = plan(source)
    for area_dir in sorted(p for p in source.iterdir() if p.is_dir()):
        area = areas.get(area_dir.name)
        if area is None:
            shutil.copytree(area_dir, target / area_dir.name)
            continue
        files = sorted(p.relative_to(area_dir).as_posix() for p in area_dir.rglob("*") if p.is_file())
        dropped = {f for f in files if area.dropped(f)}
        dropped_renamed = {area.rename(f) for f in dropped}
        for relative in files:
            if relative in dropped:
                continue
            out = target / area_dir.name / area.rename(relative)
            out.parent.mkdir(parents=True, exist_ok=True)
            source_file = area_dir / relative
            if source_file.suffix not in TEXT_SUFFIXES:
                shutil.copyfile(source_file, out)
                continue
            text = area.rename(source_file.read_text())
            if source_file.suffix == ".json":
                data = json.loads(text)
                # Index entries name files relative to the area or to the index's folder.
                folder = Path(area.rename(relative)).parent.as_posix()
                names = dropped_renamed | {f[len(folder) + 1:] for f in dropped_renamed if f.startswith(folder + "/")}
                text = json.dumps(drop_references(data, names), indent=1)
            elif source_file.name == "MANIFEST.md":
                # Table rows of dropped files go.
                text = "".join(line for line in text.splitlines(keepends=True)
                               if not any(f"`{f}`" in line for f in dropped_renamed))
            out.write_text(text)
    for extra in source.iterdir():
        if extra.is_file():
            shutil.copyfile(extra, target / extra.name)
    reduce_metrics(target / "metrics")


def run_tests(binary, golden, gtest_filter, cli):
    env = dict(os.environ, BOUNDSEG_GOLDEN_DIR=str(golden))
    if cli:
        env["BOUNDSEG_CLI"] = str(cli)
    result = subprocess.run([str(binary), f"--gtest_filter={gtest_filter}"], env=env, capture_output=True, text=True)
    counts, ran = {}, []
    for line in result.stdout.splitlines():
        if m := COUNT_LINE.match(line):
            counts[m.group(1)] = (int(m.group(2)), m.group(3))
        elif m := RUN_LINE.match(line):
            ran.append(m.group(1))
    return result, counts, ran


def run_pytest(golden, ops_library, cli):
    """The Python tests (they read the golden boundary, rloss and models areas) with the variant."""
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, BOUNDSEG_GOLDEN_DIR=str(golden), BOUNDSEG_OPS_LIBRARY=str(ops_library),
               PYTHONPATH=str(repo / "python"))
    if cli:
        env["BOUNDSEG_CLI"] = str(cli)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", str(repo / "tests" / "python")], env=env,
                          capture_output=True, text=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", required=True, type=Path, help="the boundseg_tests binary")
    parser.add_argument("--configured-golden", type=Path,
                        help="the golden set to copy unless BOUNDSEG_GOLDEN_DIR names another (default ../shared/golden)")
    parser.add_argument("--cli", type=Path, help="the boundseg binary: also runs the CLI's golden test")
    parser.add_argument("--python-ops", type=Path,
                        help="the boundseg_torch_ops library: also runs the pytest suite (tests/python) on the variant")
    parser.add_argument("--compare", action="store_true", help="also run on the original set and show both counts")
    parser.add_argument("--keep", type=Path, help="write the variant here and keep it (must not exist)")
    args = parser.parse_args()
    source = golden_source(args.configured_golden)

    # Every test that reads golden files: the Golden* suites, the CLI's COCO golden, the evaluator's discovery test.
    gtest_filter = "Golden*:Evaluator.Discovery*" + (":CliCoco.*Golden*" if args.cli else "")
    with tempfile.TemporaryDirectory(prefix="boundseg_golden_variant_") as tmp:
        variant = args.keep or Path(tmp) / "golden"
        variant.mkdir(parents=True)
        make_variant(source, variant)
        print(f"golden variant: {variant} (renamed and reduced copy of {source})", flush=True)
        result, counts, ran = run_tests(args.tests, variant, gtest_filter, args.cli)
        full = run_tests(args.tests, source, gtest_filter, args.cli)[1] if args.compare else {}
        python = run_pytest(variant, args.python_ops, args.cli) if args.python_ops else None

    failures = []
    if result.returncode != 0:
        failures.append(f"the tests failed on the variant (exit status {result.returncode})")
    uncounted = [t for t in ran if t.split(".")[0].startswith("Golden") and t not in counts]
    if uncounted:
        failures.append("golden tests that printed no case count: " + ", ".join(uncounted))
    if not counts:
        failures.append("no golden test ran")
    width = max((len(t) for t in counts), default=10)
    header = f"{'test':<{width}}  {'full':>6}  {'variant':>7}  what" if args.compare else \
        f"{'test':<{width}}  {'variant':>7}  what"
    print(header)
    for test, (n, what) in counts.items():
        if args.compare:
            before = full.get(test, (None, ""))[0]
            print(f"{test:<{width}}  {'-' if before is None else before:>6}  {n:>7}  {what}")
        else:
            print(f"{test:<{width}}  {n:>7}  {what}")
    if args.compare and counts and all(full.get(t, (None,))[0] == n for t, (n, _) in counts.items()):
        failures.append("the variant changed no case count: the reduction did not take")
    if python is not None:
        print("pytest on the variant: " + (python.stdout.strip().splitlines() or ["(no output)"])[-1])
        if python.returncode != 0:
            print(python.stdout[-20000:])
            print(python.stderr[-5000:], file=sys.stderr)
            failures.append(f"the pytest suite failed on the variant (exit status {python.returncode})")
    if failures:
        print(result.stdout[-20000:])
        print(result.stderr[-5000:], file=sys.stderr)
        for failure in failures:
            print("FAILED: " + failure, file=sys.stderr)
        return 1
    print(f"golden variant: {len(counts)} golden tests passed on the renamed and reduced set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
