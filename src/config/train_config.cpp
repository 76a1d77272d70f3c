// YAML loading with _base_ inheritance and overrides, and the typed, key-checked mapping onto TrainConfig.
#include "boundseg/config/train_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "boundseg/core/error.h"
#include "boundseg/losses/ocr_losses.h"
#include "boundseg/train/loss_terms.h"

namespace boundseg::config {
namespace {
namespace fs = std::filesystem;

/// Maps merge recursively; any other value replaces what was there.
void merge_into(YAML::Node target, const std::string& key, const YAML::Node& value) {
  YAML::Node existing = target[key];
  if (existing && existing.IsMap() && value.IsMap()) {
    for (auto it = value.begin(); it != value.end(); ++it) merge_into(existing, it->first.as<std::string>(), it->second);
  } else {
    target[key] = YAML::Clone(value);
  }
}

YAML::Node load_file(const fs::path& path, std::vector<fs::path>& chain) {
  require(fs::is_regular_file(path), "config", "the config file", "exist", [&] { return "'" + path.string() + "'"; });
  const fs::path canonical = fs::canonical(path);
  require(std::find(chain.begin(), chain.end(), canonical) == chain.end(), "config", "_base_",
          "not include a file that includes it", [&] { return "a cycle through '" + path.string() + "'"; });
  YAML::Node node;
  try {
    node = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    fail("config", "'" + path.string() + "'", "be valid YAML", e.what());
  }
  if (node.IsNull()) node = YAML::Node(YAML::NodeType::Map);
  require(node.IsMap(), "config", "'" + path.string() + "'", "hold a YAML mapping at the top level",
          [] { return "another kind of document"; });
  chain.push_back(canonical);
  YAML::Node merged(YAML::NodeType::Map);
  if (const YAML::Node bases = node["_base_"]) {
    std::vector<std::string> names;
    if (bases.IsScalar()) {
      names.push_back(bases.as<std::string>());
    } else {
      require(bases.IsSequence(), "config", "_base_ in '" + path.string() + "'", "be a path or a list of paths",
              [] { return "a mapping"; });
      for (const auto& b : bases) names.push_back(b.as<std::string>());
    }
    for (const std::string& name : names) {
      const fs::path base = fs::path(name).is_absolute() ? fs::path(name) : path.parent_path() / name;
      YAML::Node loaded = load_file(base, chain);
      for (auto it = loaded.begin(); it != loaded.end(); ++it) {
        merge_into(merged, it->first.as<std::string>(), it->second);
      }
    }
  }
  chain.pop_back();
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    if (key != "_base_") {
      merge_into(merged, key, it->second);
    }
  }
  return merged;
}

/// node[keys[i]][keys[i+1]]... = value, creating (or replacing non-map values by) maps on the way.
void set_path(YAML::Node node, const std::vector<std::string>& keys, size_t i, const YAML::Node& value) {
  if (i + 1 == keys.size()) {
    node[keys[i]] = value;
    return;
  }
  if (!node[keys[i]] || !node[keys[i]].IsMap()) node[keys[i]] = YAML::Node(YAML::NodeType::Map);
  set_path(node[keys[i]], keys, i + 1, value);
}

void apply_override(YAML::Node& root, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  require(eq != std::string::npos && eq > 0, "config", "--set", "be key.path=value", [&] {
    return "'" + assignment + "'";
  });
  const std::string path = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    fail("config", "--set " + path, "have a YAML value", e.what());
  }
  std::vector<std::string> keys;
  for (size_t start = 0;;) {
    const size_t dot = path.find('.', start);
    keys.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  set_path(root, keys, 0, value);
}

std::string describe(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "null";
}

/// Reads the keys of one mapping; finish() rejects the keys nobody asked for.
class Section {
 public:
  Section(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {
    require(!node_ || node_.IsMap(), "config", path_.empty() ? "the document" : path_, "be a mapping",
            [&] { return describe(node_); });
  }
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  template <typename T>
  void read(const std::string& key, T& out) {
    used_.insert(key);
    if (!node_ || !node_[key]) return;
    out = convert<T>(node_[key], key_path(key));
  }
  /// The child mapping (possibly absent = all defaults).
  Section child(const std::string& key) {
    used_.insert(key);
    return Section(node_ ? node_[key] : YAML::Node(), key_path(key));
  }
  bool has(const std::string& key) const { return node_ && node_[key]; }
  YAML::Node raw(const std::string& key) {
    used_.insert(key);
    return node_ ? node_[key] : YAML::Node();
  }
  void finish() const {
    if (!node_) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string key = it->first.as<std::string>();
      if (!used_.count(key)) {
        std::string known;
        for (const std::string& k : used_) known += (known.empty() ? "" : ", ") + k;
        fail("config", key_path(key), "be a known key (" + known + ")", "an unknown key");
      }
    }
  }

  template <typename T>
  static T convert(const YAML::Node& value, const std::string& path) {
    const char* expected = std::is_same_v<T, bool>               ? "be true or false"
                           : std::is_same_v<T, std::string>      ? "be a string"
                           : std::is_integral_v<T>               ? "be an integer"
                           : std::is_floating_point_v<T>         ? "be a number"
                                                                 : "be a list of numbers";
    try {
      if constexpr (std::is_same_v<T, std::vector<double>>) {
        if (!value.IsSequence()) fail("config", path, expected, describe(value));
        T out;
        for (const auto& v : value) out.push_back(convert<double>(v, path + "[" + std::to_string(out.size()) + "]"));
        return out;
      } else {
        if (!value.IsScalar()) fail("config", path, expected, describe(value));
        return value.as<T>();
      }
    } catch (const YAML::Exception&) {
      fail("config", path, expected, describe(value));
    }
  }

 private:
  YAML::Node node_;
  std::string path_;
  std::set<std::string> used_;
};

void check(bool ok, const std::string& path, const std::string& requirement, const std::string& actual) {
  if (!ok) fail("config", path, requirement, actual);
}
template <typename T>
std::string str(const T& v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

DatasetConfig read_dataset(Section s) {
  DatasetConfig d;
  s.read("type", d.type);
  s.read("root", d.root);
  s.read("split", d.split);
  s.read("labels", d.labels);
  s.read("reduce_zero_label", d.reduce_zero_label);
  s.read("sbd_augmented", d.sbd_augmented);
  s.read("image_dir", d.image_dir);
  s.read("label_dir", d.label_dir);
  s.read("image_suffix", d.image_suffix);
  s.read("label_suffix", d.label_suffix);
  s.read("limit", d.limit);
  s.read("scribbles", d.scribbles);
  s.finish();
  const std::vector<std::string> types = {"cityscapes", "ade20k", "voc", "folder"};
  check(std::count(types.begin(), types.end(), d.type) == 1, s.key_path("type"),
        "be one of cityscapes, ade20k, voc, folder", "'" + d.type + "'");
  check(d.labels == "trainids" || d.labels == "labelids", s.key_path("labels"), "be trainids or labelids",
        "'" + d.labels + "'");
  check(d.type == "folder" || !d.root.empty(), s.key_path("root"), "name the dataset folder", "nothing");
  check(d.type != "folder" || (!d.image_dir.empty() && !d.label_dir.empty()), s.key_path("image_dir"),
        "and label_dir name the folders of a folder dataset", "nothing");
  check(d.limit >= 0, s.key_path("limit"), "be >= 0", str(d.limit));
  return d;
}

void read_class_weights(Section& s, LossTermConfig& t) {
  const YAML::Node node = s.raw("class_weights");
  if (!node) return;
  if (node.IsScalar() && node.Scalar() == "cityscapes") {
    t.class_weights = losses::cityscapes_class_weights();
  } else {
    t.class_weights = Section::convert<std::vector<double>>(node, s.key_path("class_weights"));
  }
}

}  // namespace

TrainConfig load_train_config(const fs::path& path, const std::vector<std::string>& overrides) {
  std::vector<fs::path> chain;
  YAML::Node root = load_file(path, chain);
  for (const std::string& o : overrides) apply_override(root, o);

  TrainConfig c;
  Section top(root, "");
  {
    Section m = top.child("model");
    m.read("arch", c.model.arch);
    m.read("weights", c.model.weights);
    m.read("allow_partial", c.model.allow_partial);
    m.read("sync_bn", c.model.sync_bn);
    m.read("dropout", c.model.dropout);
    m.finish();
    check(c.model.dropout == -1 || (c.model.dropout >= 0 && c.model.dropout < 1), "model.dropout",
          "be -1 (the architecture's) or in [0, 1)", str(c.model.dropout));
  }
  {
    Section d = top.child("data");
    require(d.has("train"), "config", "data.train", "describe the training set", [] { return "nothing"; });
    c.data.train = read_dataset(d.child("train"));
    c.data.has_val = d.has("val");
    if (c.data.has_val) {
      c.data.val = read_dataset(d.child("val"));
    } else {
      d.child("val");
    }
    d.read("num_classes", c.data.num_classes);
    d.read("ignore_index", c.data.ignore_index);
    d.read("batch_size", c.data.batch_size);
    d.read("workers", c.data.workers);
    d.read("prefetch", c.data.prefetch);
    Section a = d.child("augment");
    data::AugmentOptions& g = c.data.augment;
    a.read("scale_min", g.scale_min);
    a.read("scale_max", g.scale_max);
    a.read("aspect_min", g.aspect_min);
    a.read("aspect_max", g.aspect_max);
    a.read("crop_height", g.crop_height);
    a.read("crop_width", g.crop_width);
    a.read("cat_max_ratio", g.cat_max_ratio);
    a.read("flip_probability", g.flip_probability);
    a.read("photometric", g.photometric);
    a.finish();
    d.finish();
    check(c.data.num_classes >= 1 && c.data.num_classes <= 255, "data.num_classes", "be in [1, 255]",
          str(c.data.num_classes));
    check(c.data.ignore_index >= c.data.num_classes && c.data.ignore_index <= 255, "data.ignore_index",
          "be in [num_classes, 255]", str(c.data.ignore_index));
    check(c.data.batch_size >= 1, "data.batch_size", "be >= 1", str(c.data.batch_size));
    check(c.data.workers >= 0, "data.workers", "be >= 0", str(c.data.workers));
    check(c.data.prefetch >= 1, "data.prefetch", "be >= 1", str(c.data.prefetch));
    check(g.scale_min > 0 && g.scale_min <= g.scale_max, "data.augment.scale_min",
          "be > 0 and <= data.augment.scale_max", str(g.scale_min));
    check(g.aspect_min > 0 && g.aspect_min <= g.aspect_max, "data.augment.aspect_min",
          "be > 0 and <= data.augment.aspect_max", str(g.aspect_min));
    check(g.crop_height >= 8 && g.crop_width >= 8, "data.augment.crop_height",
          "and crop_width be >= 8", str(g.crop_height) + "x" + str(g.crop_width));
    check(g.cat_max_ratio > 0 && g.cat_max_ratio <= 1, "data.augment.cat_max_ratio", "be in (0, 1]",
          str(g.cat_max_ratio));
    check(g.flip_probability >= 0 && g.flip_probability <= 1, "data.augment.flip_probability", "be in [0, 1]",
          str(g.flip_probability));
  }
  {
    Section o = top.child("optimizer");
    OptimizerConfig& p = c.optimizer;
    o.read("type", p.type);
    o.read("lr", p.lr);
    o.read("momentum", p.momentum);
    o.read("weight_decay", p.weight_decay);
    o.read("beta1", p.beta1);
    o.read("beta2", p.beta2);
    o.read("eps", p.eps);
    o.read("clip_grad_norm", p.clip_grad_norm);
    o.finish();
    check(p.type == "sgd" || p.type == "adamw", "optimizer.type", "be sgd or adamw", "'" + p.type + "'");
    check(p.lr > 0, "optimizer.lr", "be > 0", str(p.lr));
    check(p.momentum >= 0 && p.momentum < 1, "optimizer.momentum", "be in [0, 1)", str(p.momentum));
    check(p.weight_decay >= 0, "optimizer.weight_decay", "be >= 0", str(p.weight_decay));
    check(p.beta1 >= 0 && p.beta1 < 1 && p.beta2 >= 0 && p.beta2 < 1, "optimizer.beta1", "and beta2 be in [0, 1)",
          str(p.beta1) + ", " + str(p.beta2));
    check(p.clip_grad_norm >= 0, "optimizer.clip_grad_norm", "be >= 0", str(p.clip_grad_norm));
  }
  {
    Section s = top.child("schedule");
    s.read("iters", c.schedule.iters);
    s.read("power", c.schedule.power);
    s.read("min_lr", c.schedule.min_lr);
    s.read("warmup_iters", c.schedule.warmup_iters);
    s.read("warmup_ratio", c.schedule.warmup_ratio);
    s.finish();
    check(c.schedule.iters >= 1, "schedule.iters", "be >= 1", str(c.schedule.iters));
    check(c.schedule.warmup_iters >= 0 && c.schedule.warmup_iters < c.schedule.iters, "schedule.warmup_iters",
          "be in [0, schedule.iters)", str(c.schedule.warmup_iters));
    check(c.schedule.min_lr >= 0 && c.schedule.min_lr <= c.optimizer.lr, "schedule.min_lr", "be in [0, optimizer.lr]",
          str(c.schedule.min_lr));
  }
  if (const YAML::Node terms = top.raw("losses")) {
    check(terms.IsSequence() && terms.size() > 0, "losses", "be a non-empty list of loss terms", describe(terms));
    c.losses.clear();
    for (size_t i = 0; i < terms.size(); ++i) {
      Section s(terms[i], "losses[" + std::to_string(i) + "]");
      LossTermConfig t;
      s.read("type", t.type);
      s.read("output", t.output);
      s.read("weight", t.weight);
      read_class_weights(s, t);
      s.read("ohem_thresh", t.ohem_thresh);
      s.read("ohem_min_kept", t.ohem_min_kept);
      s.read("sigma_rgb", t.sigma_rgb);
      s.read("sigma_xy", t.sigma_xy);
      s.read("scale_factor", t.scale_factor);
      s.read("gradient", t.gradient);
      s.read("lattice", t.lattice);
      s.read("batch_average", t.batch_average);
      s.read("size_min_fraction", t.size_min_fraction);
      s.finish();
      check(t.sigma_rgb > 0 && t.sigma_xy > 0 && std::isfinite(t.sigma_rgb) && std::isfinite(t.sigma_xy),
            s.key_path("sigma_rgb") + " and sigma_xy", "be positive and finite",
            str(t.sigma_rgb) + " and " + str(t.sigma_xy));
      check(t.scale_factor > 0 && t.scale_factor <= 1, s.key_path("scale_factor"), "be in (0, 1]",
            str(t.scale_factor));
      check(t.gradient == "reference" || t.gradient == "exact", s.key_path("gradient"), "be reference or exact",
            "'" + t.gradient + "'");
      check(t.lattice == "clean" || t.lattice == "reference", s.key_path("lattice"), "be clean or reference",
            "'" + t.lattice + "'");
      check(t.size_min_fraction >= 0 && t.size_min_fraction <= 1, s.key_path("size_min_fraction"), "be in [0, 1]",
            str(t.size_min_fraction));
      const auto names = train::registered_losses();
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      check(std::count(names.begin(), names.end(), t.type) == 1, s.key_path("type"), "be one of " + known,
            "'" + t.type + "'");
      check(t.output == "out" || t.output == "aux", s.key_path("output"), "be out or aux", "'" + t.output + "'");
      check(t.class_weights.empty() || int64_t(t.class_weights.size()) == c.data.num_classes,
            s.key_path("class_weights"), "have data.num_classes = " + str(c.data.num_classes) + " entries",
            str(t.class_weights.size()));
      c.losses.push_back(t);
    }
  }
  {
    Section r = top.child("run");
    RunConfig& u = c.run;
    r.read("seed", u.seed);
    r.read("log_interval", u.log_interval);
    r.read("val_interval", u.val_interval);
    r.read("checkpoint_interval", u.checkpoint_interval);
    r.read("keep_checkpoints", u.keep_checkpoints);
    r.read("bf16", u.bf16);
    r.read("val_boundary_ratio", u.val_boundary_ratio);
    r.read("val_images", u.val_images);
    r.finish();
    check(u.log_interval >= 1, "run.log_interval", "be >= 1", str(u.log_interval));
    check(u.val_interval >= 0, "run.val_interval", "be >= 0", str(u.val_interval));
    check(u.checkpoint_interval >= 1, "run.checkpoint_interval", "be >= 1", str(u.checkpoint_interval));
    check(u.keep_checkpoints >= 1, "run.keep_checkpoints", "be >= 1", str(u.keep_checkpoints));
    check(u.val_boundary_ratio > 0 && u.val_boundary_ratio < 1, "run.val_boundary_ratio", "be in (0, 1)",
          str(u.val_boundary_ratio));
  }
  top.finish();
  return c;
}

std::string to_yaml(const TrainConfig& c) {
  YAML::Emitter e;
  e << YAML::BeginMap;
  e << YAML::Key << "model" << YAML::Value << YAML::BeginMap << YAML::Key << "arch" << YAML::Value << c.model.arch
    << YAML::Key << "weights" << YAML::Value << c.model.weights << YAML::Key << "allow_partial" << YAML::Value
    << c.model.allow_partial << YAML::Key << "sync_bn" << YAML::Value << c.model.sync_bn << YAML::Key << "dropout" << YAML::Value
    << c.model.dropout << YAML::EndMap;
  auto dataset = [&](const DatasetConfig& d) {
    e << YAML::BeginMap << YAML::Key << "type" << YAML::Value << d.type << YAML::Key << "root" << YAML::Value
      << d.root << YAML::Key << "split" << YAML::Value << d.split << YAML::Key << "labels" << YAML::Value << d.labels
      << YAML::Key << "reduce_zero_label" << YAML::Value << d.reduce_zero_label << YAML::Key << "sbd_augmented"
      << YAML::Value << d.sbd_augmented << YAML::Key << "image_dir" << YAML::Value << d.image_dir << YAML::Key
      << "label_dir" << YAML::Value << d.label_dir << YAML::Key << "image_suffix" << YAML::Value << d.image_suffix
      << YAML::Key << "label_suffix" << YAML::Value << d.label_suffix << YAML::Key << "limit" << YAML::Value
      << d.limit << YAML::Key << "scribbles" << YAML::Value << d.scribbles << YAML::EndMap;
  };
  const data::AugmentOptions& g = c.data.augment;
  e << YAML::Key << "data" << YAML::Value << YAML::BeginMap << YAML::Key << "train" << YAML::Value;
  dataset(c.data.train);
  if (c.data.has_val) {
    e << YAML::Key << "val" << YAML::Value;
    dataset(c.data.val);
  }
  e << YAML::Key << "num_classes" << YAML::Value << c.data.num_classes << YAML::Key << "ignore_index" << YAML::Value
    << c.data.ignore_index << YAML::Key << "batch_size" << YAML::Value << c.data.batch_size << YAML::Key << "workers"
    << YAML::Value << c.data.workers << YAML::Key << "prefetch" << YAML::Value << c.data.prefetch;
  e << YAML::Key << "augment" << YAML::Value << YAML::BeginMap << YAML::Key << "scale_min" << YAML::Value
    << g.scale_min << YAML::Key << "scale_max" << YAML::Value << g.scale_max << YAML::Key << "aspect_min"
    << YAML::Value << g.aspect_min << YAML::Key << "aspect_max" << YAML::Value << g.aspect_max << YAML::Key
    << "crop_height" << YAML::Value << g.crop_height << YAML::Key << "crop_width" << YAML::Value << g.crop_width
    << YAML::Key << "cat_max_ratio" << YAML::Value << g.cat_max_ratio << YAML::Key << "flip_probability"
    << YAML::Value << g.flip_probability << YAML::Key << "photometric" << YAML::Value << g.photometric
    << YAML::EndMap << YAML::EndMap;
  const OptimizerConfig& p = c.optimizer;
  e << YAML::Key << "optimizer" << YAML::Value << YAML::BeginMap << YAML::Key << "type" << YAML::Value << p.type
    << YAML::Key << "lr" << YAML::Value << p.lr << YAML::Key << "momentum" << YAML::Value << p.momentum << YAML::Key
    << "weight_decay" << YAML::Value << p.weight_decay << YAML::Key << "beta1" << YAML::Value << p.beta1 << YAML::Key
    << "beta2" << YAML::Value << p.beta2 << YAML::Key << "eps" << YAML::Value << p.eps << YAML::Key
    << "clip_grad_norm" << YAML::Value << p.clip_grad_norm << YAML::EndMap;
  const ScheduleConfig& s = c.schedule;
  e << YAML::Key << "schedule" << YAML::Value << YAML::BeginMap << YAML::Key << "iters" << YAML::Value << s.iters
    << YAML::Key << "power" << YAML::Value << s.power << YAML::Key << "min_lr" << YAML::Value << s.min_lr
    << YAML::Key << "warmup_iters" << YAML::Value << s.warmup_iters << YAML::Key << "warmup_ratio" << YAML::Value
    << s.warmup_ratio << YAML::EndMap;
  e << YAML::Key << "losses" << YAML::Value << YAML::BeginSeq;
  for (const LossTermConfig& t : c.losses) {
    e << YAML::BeginMap << YAML::Key << "type" << YAML::Value << t.type << YAML::Key << "output" << YAML::Value
      << t.output << YAML::Key << "weight" << YAML::Value << t.weight << YAML::Key << "class_weights" << YAML::Value
      << YAML::Flow << t.class_weights << YAML::Key << "ohem_thresh" << YAML::Value << t.ohem_thresh << YAML::Key
      << "ohem_min_kept" << YAML::Value << t.ohem_min_kept << YAML::Key << "sigma_rgb" << YAML::Value << t.sigma_rgb
      << YAML::Key << "sigma_xy" << YAML::Value << t.sigma_xy << YAML::Key << "scale_factor" << YAML::Value
      << t.scale_factor << YAML::Key << "gradient" << YAML::Value << t.gradient << YAML::Key << "lattice"
      << YAML::Value << t.lattice << YAML::Key << "batch_average" << YAML::Value << t.batch_average << YAML::Key
      << "size_min_fraction" << YAML::Value << t.size_min_fraction << YAML::EndMap;
  }
  e << YAML::EndSeq;
  const RunConfig& r = c.run;
  e << YAML::Key << "run" << YAML::Value << YAML::BeginMap << YAML::Key << "seed" << YAML::Value << r.seed
    << YAML::Key << "log_interval" << YAML::Value << r.log_interval << YAML::Key << "val_interval" << YAML::Value
    << r.val_interval << YAML::Key << "checkpoint_interval" << YAML::Value << r.checkpoint_interval << YAML::Key
    << "keep_checkpoints" << YAML::Value << r.keep_checkpoints << YAML::Key << "bf16" << YAML::Value << r.bf16
    << YAML::Key << "val_boundary_ratio" << YAML::Value << r.val_boundary_ratio << YAML::Key << "val_images"
    << YAML::Value << r.val_images << YAML::EndMap;
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace boundseg::config
