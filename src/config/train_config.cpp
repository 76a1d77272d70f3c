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

// One key list per section, shared by the reader (load_train_config) and the writer (to_yaml): visit(key, field)
// for every scalar key, in file order. X is the struct, const or not.
template <typename X, typename Visit>
void dataset_keys(X& d, Visit&& visit) {
  visit("type", d.type);
  visit("root", d.root);
  visit("split", d.split);
  visit("labels", d.labels);
  visit("reduce_zero_label", d.reduce_zero_label);
  visit("sbd_augmented", d.sbd_augmented);
  visit("image_dir", d.image_dir);
  visit("label_dir", d.label_dir);
  visit("image_suffix", d.image_suffix);
  visit("label_suffix", d.label_suffix);
  visit("limit", d.limit);
  visit("scribbles", d.scribbles);
}
template <typename X, typename Visit>
void model_keys(X& m, Visit&& visit) {
  visit("arch", m.arch);
  visit("weights", m.weights);
  visit("allow_partial", m.allow_partial);
  visit("sync_bn", m.sync_bn);
  visit("dropout", m.dropout);
}
template <typename X, typename Visit>
void data_keys(X& d, Visit&& visit) {  // the scalars of `data`; train, val and augment are sections of their own
  visit("num_classes", d.num_classes);
  visit("ignore_index", d.ignore_index);
  visit("batch_size", d.batch_size);
  visit("workers", d.workers);
  visit("prefetch", d.prefetch);
}
template <typename X, typename Visit>
void augment_keys(X& g, Visit&& visit) {
  visit("scale_min", g.scale_min);
  visit("scale_max", g.scale_max);
  visit("aspect_min", g.aspect_min);
  visit("aspect_max", g.aspect_max);
  visit("crop_height", g.crop_height);
  visit("crop_width", g.crop_width);
  visit("cat_max_ratio", g.cat_max_ratio);
  visit("flip_probability", g.flip_probability);
  visit("photometric", g.photometric);
}
template <typename X, typename Visit>
void optimizer_keys(X& p, Visit&& visit) {
  visit("type", p.type);
  visit("lr", p.lr);
  visit("momentum", p.momentum);
  visit("weight_decay", p.weight_decay);
  visit("beta1", p.beta1);
  visit("beta2", p.beta2);
  visit("eps", p.eps);
  visit("clip_grad_norm", p.clip_grad_norm);
}
template <typename X, typename Visit>
void schedule_keys(X& s, Visit&& visit) {
  visit("iters", s.iters);
  visit("power", s.power);
  visit("min_lr", s.min_lr);
  visit("warmup_iters", s.warmup_iters);
  visit("warmup_ratio", s.warmup_ratio);
}
template <typename X, typename Visit>
void loss_term_keys(X& t, Visit&& visit) {  // class_weights is read and written on its own (it may be "cityscapes")
  visit("type", t.type);
  visit("output", t.output);
  visit("weight", t.weight);
  visit("ohem_thresh", t.ohem_thresh);
  visit("ohem_min_kept", t.ohem_min_kept);
  visit("sigma_rgb", t.sigma_rgb);
  visit("sigma_xy", t.sigma_xy);
  visit("scale_factor", t.scale_factor);
  visit("gradient", t.gradient);
  visit("lattice", t.lattice);
  visit("batch_average", t.batch_average);
  visit("size_min_fraction", t.size_min_fraction);
  visit("boundary_ratio", t.boundary_ratio);
}
template <typename X, typename Visit>
void run_keys(X& r, Visit&& visit) {
  visit("seed", r.seed);
  visit("log_interval", r.log_interval);
  visit("val_interval", r.val_interval);
  visit("checkpoint_interval", r.checkpoint_interval);
  visit("keep_checkpoints", r.keep_checkpoints);
  visit("bf16", r.bf16);
  visit("val_boundary_ratio", r.val_boundary_ratio);
  visit("val_images", r.val_images);
}

// The reading visitor of a section.
auto reader(Section& s) {
  return [&s](const char* key, auto& field) { s.read(key, field); };
}

DatasetConfig read_dataset(Section s) {
  DatasetConfig d;
  dataset_keys(d, reader(s));
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
    model_keys(c.model, reader(m));
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
    data_keys(c.data, reader(d));
    Section a = d.child("augment");
    data::AugmentOptions& g = c.data.augment;
    augment_keys(g, reader(a));
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
    optimizer_keys(p, reader(o));
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
    schedule_keys(c.schedule, reader(s));
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
      loss_term_keys(t, reader(s));
      read_class_weights(s, t);
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
      check(t.boundary_ratio > 0 && t.boundary_ratio < 1, s.key_path("boundary_ratio"), "be in (0, 1)",
            str(t.boundary_ratio));
      if (t.type == "boundary_ce") {
        for (const LossTermConfig& other : c.losses) {
          check(other.type != "boundary_ce" || other.boundary_ratio == t.boundary_ratio, s.key_path("boundary_ratio"),
                "equal the other boundary_ce terms' (the loader makes one boundary map)",
                str(t.boundary_ratio) + " after " + str(other.boundary_ratio));
        }
      }
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
    run_keys(u, reader(r));
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
  const auto write = [&e](const char* key, const auto& value) { e << YAML::Key << key << YAML::Value << value; };
  // A mapping under `key` holding the keys of one section.
  const auto section = [&](const char* key, auto&& keys) {
    e << YAML::Key << key << YAML::Value << YAML::BeginMap;
    keys();
    e << YAML::EndMap;
  };
  e << YAML::BeginMap;
  section("model", [&] { model_keys(c.model, write); });
  section("data", [&] {
    section("train", [&] { dataset_keys(c.data.train, write); });
    if (c.data.has_val) section("val", [&] { dataset_keys(c.data.val, write); });
    data_keys(c.data, write);
    section("augment", [&] { augment_keys(c.data.augment, write); });
  });
  section("optimizer", [&] { optimizer_keys(c.optimizer, write); });
  section("schedule", [&] { schedule_keys(c.schedule, write); });
  e << YAML::Key << "losses" << YAML::Value << YAML::BeginSeq;
  for (const LossTermConfig& t : c.losses) {
    e << YAML::BeginMap;
    loss_term_keys(t, write);
    e << YAML::Key << "class_weights" << YAML::Value << YAML::Flow << t.class_weights << YAML::EndMap;
  }
  e << YAML::EndSeq;
  section("run", [&] { run_keys(c.run, write); });
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace boundseg::config
