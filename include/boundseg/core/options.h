// Options structs as data: the key list that a config reader fills and a writer prints (OptionKeys), and the place
// an option is checked (OptionSite), so one validate() serves library calls, config files and command-line flags.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "boundseg/core/error.h"

namespace boundseg {

/// The keys of one options struct, visited in order by that struct's key-list function (e.g. a loss's `keys`):
/// a config reader fills the fields from a file, a writer prints them, so reading and writing share one list.
/// Defaults are the struct's own; a key that is absent leaves its field as it is.
class OptionKeys {
 public:
  virtual ~OptionKeys() = default;
  virtual void operator()(const char* key, bool& field) = 0;
  virtual void operator()(const char* key, int64_t& field) = 0;
  virtual void operator()(const char* key, double& field) = 0;
  virtual void operator()(const char* key, std::string& field) = 0;
  /// A list of numbers, or one of the named `presets` (e.g. "cityscapes" class weights), which readers expand.
  virtual void operator()(const char* key, std::vector<double>& field,
                          const std::vector<std::pair<std::string, std::vector<double>>>& presets) = 0;
  /// A string that must be one of `allowed` (readers reject any other value, naming the key).
  virtual void choice(const char* key, std::string& field, const std::vector<std::string>& allowed) = 0;

  void operator()(const char* key, std::vector<double>& field) { (*this)(key, field, {}); }
  /// An enum named by strings: {{"reference", Gradient::kReference}, {"exact", Gradient::kExact}}.
  template <typename E>
  void choice(const char* key, E& field, const std::vector<std::pair<std::string, E>>& names) {
    std::string name;
    std::vector<std::string> allowed;
    for (const auto& [n, value] : names) {
      allowed.push_back(n);
      if (value == field) name = n;
    }
    choice(key, name, allowed);
    for (const auto& [n, value] : names) {
      if (n == name) field = value;
    }
  }
};

/// Options from "key" -> "text" pairs, for programs and tests that build a registered piece without a config file:
/// numbers and booleans (true/false) are parsed from the text, lists are comma-separated, presets are named.
/// finish() fails on a key no option visited.
class TextKeys : public OptionKeys {
 public:
  TextKeys(std::vector<std::pair<std::string, std::string>> values, std::string what)
      : values_(std::move(values)), what_(std::move(what)) {}
  void operator()(const char* key, bool& field) override;
  void operator()(const char* key, int64_t& field) override;
  void operator()(const char* key, double& field) override;
  void operator()(const char* key, std::string& field) override;
  void operator()(const char* key, std::vector<double>& field,
                  const std::vector<std::pair<std::string, std::vector<double>>>& presets) override;
  void choice(const char* key, std::string& field, const std::vector<std::string>& allowed) override;
  using OptionKeys::operator();
  using OptionKeys::choice;
  void finish() const;

 private:
  const std::string* find(const char* key);
  std::vector<std::pair<std::string, std::string>> values_;
  std::vector<std::string> used_;
  std::string what_;
};

/// Where options are checked, so that one validate() per options struct names the option the way its user wrote
/// it: "boundseg ohem_cross_entropy: option 'thresh' must ..." for library calls (a plain string converts),
/// "boundseg config: losses[1].thresh must ..." for config files, "boundseg refine crf: --bilateral-sigma-xy must
/// ..." for command-line flags.
class OptionSite {
 public:
  enum class Style { kOption, kKeyPath, kFlag };

  /* implicit */ OptionSite(const char* what) : what_(what) {}
  /* implicit */ OptionSite(std::string what) : what_(std::move(what)) {}
  /* implicit */ OptionSite(std::string_view what) : what_(what) {}
  /// Config files: keys are named "<prefix><key>", e.g. prefix "losses[1]." .
  static OptionSite key_path(std::string what, std::string prefix) {
    return OptionSite(std::move(what), std::move(prefix), Style::kKeyPath);
  }
  /// Command lines: keys are named "--key-with-dashes", or as `renamed` says (key -> flag).
  static OptionSite flags(std::string what, std::vector<std::pair<std::string, std::string>> renamed = {}) {
    OptionSite site(std::move(what), "", Style::kFlag);
    site.renamed_ = std::move(renamed);
    return site;
  }
  /// The same site, one level down: keys become "<key>.<subkey>" (flags stay flat).
  OptionSite nested(std::string_view key) const;

  const std::string& what() const { return what_; }
  /// How `key` is named in messages.
  std::string name(std::string_view key) const;

  /// Throws boundseg::Error("boundseg <what>: <name(key)> must <requirement>, but got <actual()>.") unless `ok`.
  template <typename ActualFn>
  void require(bool ok, std::string_view key, std::string_view requirement, ActualFn&& actual) const {
    if (!ok) fail(what_, name(key), requirement, actual());
  }

 private:
  OptionSite(std::string what, std::string prefix, Style style)
      : what_(std::move(what)), prefix_(std::move(prefix)), style_(style) {}
  std::string what_, prefix_;
  Style style_ = Style::kOption;
  std::vector<std::pair<std::string, std::string>> renamed_;
};

/// Shortest round-trip text of a number for messages ("0.5", "1e-08").
std::string number_text(double value);

}  // namespace boundseg
