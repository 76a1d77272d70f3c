// YAML loading with _base_ inheritance and overrides, and the typed, key-checked mapping onto train::TrainSpec.
#include "boundseg/config/train_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "boundseg/core/error.h"
#include "boundseg/core/options.h"
#include "boundseg/data/target.h"
#include "boundseg/losses/loss.h"

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
  /// Where keys of this section are checked.
  OptionSite site() const { return OptionSite::key_path("config", path_.empty() ? "" : path_ + "."); }

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

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// The reader: options keys filled from a Section.
class ReadKeys : public OptionKeys {
 public:
  explicit ReadKeys(Section& section) : s_(section) {}
  void operator()(const char* key, bool& field) override { s_.read(key, field); }
  void operator()(const char* key, int64_t& field) override { s_.read(key, field); }
  void operator()(const char* key, double& field) override { s_.read(key, field); }
  void operator()(const char* key, std::string& field) override { s_.read(key, field); }
  void operator()(const char* key, std::vector<double>& field,
                  const std::vector<std::pair<std::string, std::vector<double>>>& presets) override {
    const YAML::Node node = s_.raw(key);
    if (!node) return;
    if (node.IsScalar()) {
      for (const auto& [name, values] : presets) {
        if (node.Scalar() == name) {
          field = values;
          return;
        }
      }
    }
    field = Section::convert<std::vector<double>>(node, s_.key_path(key));
  }
  void choice(const char* key, std::string& field, const std::vector<std::string>& allowed) override {
    s_.read(key, field);
    if (std::find(allowed.begin(), allowed.end(), field) == allowed.end()) {
      std::string options;
      for (size_t i = 0; i < allowed.size(); ++i) {
        options += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + allowed[i];
      }
      fail("config", s_.key_path(key), "be " + options, "'" + field + "'");
    }
  }

 private:
  Section& s_;
};

// The writer: options keys emitted into a YAML mapping.
class WriteKeys : public OptionKeys {
 public:
  explicit WriteKeys(YAML::Emitter& e) : e_(e) {}
  void operator()(const char* key, bool& field) override { e_ << YAML::Key << key << YAML::Value << field; }
  void operator()(const char* key, int64_t& field) override { e_ << YAML::Key << key << YAML::Value << field; }
  void operator()(const char* key, double& field) override { e_ << YAML::Key << key << YAML::Value << field; }
  void operator()(const char* key, std::string& field) override { e_ << YAML::Key << key << YAML::Value << field; }
  void operator()(const char* key, std::vector<double>& field,
                  const std::vector<std::pair<std::string, std::vector<double>>>&) override {
    e_ << YAML::Key << key << YAML::Value << YAML::Flow << field;
  }
  void choice(const char* key, std::string& field, const std::vector<std::string>&) override { (*this)(key, field); }

 private:
  YAML::Emitter& e_;
};

// One key list per library options struct, shared by the reader (load_train_config) and the writer (to_yaml);
// losses and targets carry their own (losses/loss.h, data/target.h).
void dataset_keys(data::DatasetSpec& d, OptionKeys& k) {
  k("type", d.type);
  k("root", d.root);
  k("split", d.split);
  k("labels", d.labels);
  k("reduce_zero_label", d.reduce_zero_label);
  k("sbd_augmented", d.sbd_augmented);
  k("image_dir", d.image_dir);
  k("label_dir", d.label_dir);
  k("image_suffix", d.image_suffix);
  k("label_suffix", d.label_suffix);
  k("limit", d.limit);
  k("scribbles", d.scribbles);
}
void model_keys(train::ModelSpec& m, OptionKeys& k) {
  k("arch", m.arch);
  k("weights", m.weights);
  k("allow_partial", m.allow_partial);
  k("sync_bn", m.sync_bn);
  k("dropout", m.dropout);
}
void data_keys(train::DataSpec& d, OptionKeys& k) {  // the scalars of `data`; train, val, augment, targets apart
  k("num_classes", d.num_classes);
  k("ignore_index", d.loader.ignore_index);
  k("batch_size", d.loader.batch_size);
  k("workers", d.loader.workers);
  k("prefetch", d.loader.prefetch);
}
void augment_keys(data::AugmentOptions& g, OptionKeys& k) {
  k("scale_min", g.scale_min);
  k("scale_max", g.scale_max);
  k("aspect_min", g.aspect_min);
  k("aspect_max", g.aspect_max);
  k("crop_height", g.crop_height);
  k("crop_width", g.crop_width);
  k("cat_max_ratio", g.cat_max_ratio);
  k("flip_probability", g.flip_probability);
  k("photometric", g.photometric);
}
void optimizer_keys(train::OptimizerOptions& p, OptionKeys& k) {
  k("type", p.type);
  k("lr", p.lr);
  k("momentum", p.momentum);
  k("weight_decay", p.weight_decay);
  k("beta1", p.beta1);
  k("beta2", p.beta2);
  k("eps", p.eps);
  k("clip_grad_norm", p.clip_grad_norm);
}
void schedule_keys(train::ScheduleOptions& s, OptionKeys& k) {
  k("iters", s.iters);
  k("power", s.power);
  k("min_lr", s.min_lr);
  k("warmup_iters", s.warmup_iters);
  k("warmup_ratio", s.warmup_ratio);
}
void run_keys(train::RunOptions& r, OptionKeys& k) {
  k("seed", r.seed);
  k("log_interval", r.log_interval);
  k("val_interval", r.val_interval);
  k("checkpoint_interval", r.checkpoint_interval);
  k("keep_checkpoints", r.keep_checkpoints);
  k("bf16", r.bf16);
  k("val_boundary_ratio", r.val_boundary_ratio);
  k("val_images", r.val_images);
}

// Reads a section's keys with `keys_of`, rejects unknown ones.
template <typename T, typename KeysOf>
void read_section(Section s, T& out, KeysOf keys_of) {
  ReadKeys keys(s);
  keys_of(out, keys);
  s.finish();
}

}  // namespace

train::TrainSpec load_train_config(const fs::path& path, const std::vector<std::string>& overrides) {
  std::vector<fs::path> chain;
  YAML::Node root = load_file(path, chain);
  for (const std::string& o : overrides) apply_override(root, o);

  train::TrainSpec c;
  Section top(root, "");
  read_section(top.child("model"), c.model, model_keys);
  train::validate(c.model, top.child("model").site());
  {
    Section d = top.child("data");
    require(d.has("train"), "config", "data.train", "describe the training set", [] { return "nothing"; });
    read_section(d.child("train"), c.data.train, dataset_keys);
    c.data.has_val = d.has("val");
    if (c.data.has_val) read_section(d.child("val"), c.data.val, dataset_keys);
    ReadKeys keys(d);
    data_keys(c.data, keys);
    read_section(d.child("augment"), c.data.loader.augment, augment_keys);
    Section targets = d.child("targets");
    if (const YAML::Node configured = d.raw("targets")) {
      for (auto it = configured.begin(); it != configured.end(); ++it) {
        const std::string name = it->first.as<std::string>();
        const data::TargetEntry& entry = data::target_registry().at(name, "config", targets.key_path(name));
        Section t = targets.child(name);
        ReadKeys target_keys(t);
        c.data.targets[name] = entry.make(&target_keys, train::target_context(c.data), t.site());
        t.finish();
      }
    }
    d.finish();
    train::validate(c.data, d.site());
  }
  read_section(top.child("optimizer"), c.optimizer, optimizer_keys);
  train::validate(c.optimizer, top.child("optimizer").site());
  read_section(top.child("schedule"), c.schedule, schedule_keys);
  train::validate(c.schedule, c.optimizer.lr, top.child("schedule").site());
  const losses::LossContext context = train::loss_context(c.data);
  if (const YAML::Node terms = top.raw("losses")) {
    if (!terms.IsSequence() || terms.size() == 0)
      fail("config", "losses", "be a non-empty list of loss terms", describe(terms));
    for (size_t i = 0; i < terms.size(); ++i) {
      Section s(terms[i], "losses[" + std::to_string(i) + "]");
      losses::LossTerm term;
      term.type = "ce";
      s.read("type", term.type);
      s.read("weight", term.weight);
      const losses::LossEntry& entry = losses::loss_registry().at(term.type, "config", s.key_path("type"));
      ReadKeys keys(s);
      term.loss = entry.make(&keys, context, s.site());
      s.finish();
      c.losses.push_back(std::move(term));
    }
  } else {
    c.losses.push_back(losses::make_loss_term("ce", context));
  }
  read_section(top.child("run"), c.run, run_keys);
  top.finish();
  train::validate(c, top.site());
  return c;
}

std::string to_yaml(const train::TrainSpec& spec) {
  train::TrainSpec c = spec;  // the key lists visit mutable fields
  YAML::Emitter e;
  WriteKeys write(e);
  // A mapping under `key` holding what `body` emits.
  const auto section = [&](const std::string& key, auto&& body) {
    e << YAML::Key << key << YAML::Value << YAML::BeginMap;
    body();
    e << YAML::EndMap;
  };
  e << YAML::BeginMap;
  section("model", [&] { model_keys(c.model, write); });
  section("data", [&] {
    section("train", [&] { dataset_keys(c.data.train, write); });
    if (c.data.has_val) section("val", [&] { dataset_keys(c.data.val, write); });
    data_keys(c.data, write);
    section("augment", [&] { augment_keys(c.data.loader.augment, write); });
    if (!c.data.targets.empty()) {
      section("targets", [&] {
        for (const auto& [name, target] : c.data.targets) section(name, [&] { target->write_keys(write); });
      });
    }
  });
  section("optimizer", [&] { optimizer_keys(c.optimizer, write); });
  section("schedule", [&] { schedule_keys(c.schedule, write); });
  e << YAML::Key << "losses" << YAML::Value << YAML::BeginSeq;
  for (losses::LossTerm& t : c.losses) {
    e << YAML::BeginMap;
    write("type", t.type);
    write("weight", t.weight);
    t.loss->write_keys(write);
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
  section("run", [&] { run_keys(c.run, write); });
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace boundseg::config
