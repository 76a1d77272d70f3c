// Name -> entry tables for the pieces a config or command line names (losses, targets, networks).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "boundseg/core/error.h"
#include "boundseg/core/options.h"

namespace boundseg {

/// What registered training pieces (losses, targets) know of the task.
struct TaskContext {
  int64_t num_classes = 0;
  int64_t ignore_index = 255;
};

/// A registered piece that options configure: `make` starts from the options' defaults, lets `keys` (when given)
/// read them, validates them at `site` and builds the piece.
template <typename Product>
struct Entry {
  std::string name;
  /// One line for documentation and --help.
  std::string summary;
  std::function<std::shared_ptr<Product>(OptionKeys* keys, const TaskContext& context, const OptionSite& site)> make;
};

/// Entries in registration order; Entry has a `std::string name`. Lookups of unknown names fail listing the valid
/// ones: "boundseg config: losses[0].type must be one of ce, ohem_ce, ..., but got 'dice'."
template <typename Entry>
class Registry {
 public:
  explicit Registry(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const Entry& e : entries_) out.push_back(e.name);
    return out;
  }
  const Entry* find(const std::string& name) const {
    for (const Entry& e : entries_) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }
  /// The entry called `name`; `what` and `argument` name the caller and the key in the error.
  const Entry& at(const std::string& name, std::string_view what, std::string_view argument) const {
    const Entry* e = find(name);
    if (!e) fail(what, argument, "be one of " + joined(), "'" + name + "'");
    return *e;
  }
  /// "a, b, c".
  std::string joined() const {
    std::string s;
    for (const Entry& e : entries_) s += (s.empty() ? "" : ", ") + e.name;
    return s;
  }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

}  // namespace boundseg

/// Defines `const Registry<Entry<RegisteredProduct>>& FUNCTION()` from an X-macro LIST of names, in a .cpp that
/// declares `using RegisteredProduct = ...;`: each name's `Entry<RegisteredProduct> <name>_entry()` is defined in its
/// own file, and adding one is a name in LIST.
#define BOUNDSEG_DECLARE_ENTRY(name) ::boundseg::Entry<RegisteredProduct> name##_entry();
#define BOUNDSEG_LIST_ENTRY(name) name##_entry(),
#define BOUNDSEG_DEFINE_REGISTRY(FUNCTION, LIST)                                                        \
  LIST(BOUNDSEG_DECLARE_ENTRY)                                                                          \
  const ::boundseg::Registry<::boundseg::Entry<RegisteredProduct>>& FUNCTION() {                        \
    static const ::boundseg::Registry<::boundseg::Entry<RegisteredProduct>> registry({LIST(BOUNDSEG_LIST_ENTRY)}); \
    return registry;                                                                                    \
  }
