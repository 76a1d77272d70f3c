// Checks of the training specification.
#include "boundseg/train/spec.h"

#include <algorithm>

#include "boundseg/core/error.h"

namespace boundseg::train {

void validate(const ModelSpec& m, const OptionSite& site) {
  site.require(m.dropout == -1 || (m.dropout >= 0 && m.dropout < 1), "dropout",
               "be -1 (the architecture's) or in [0, 1)", [&] { return number_text(m.dropout); });
}

void validate(const DataSpec& d, const OptionSite& site) {
  site.require(d.num_classes >= 1 && d.num_classes <= 255, "num_classes", "be in [1, 255]",
               [&] { return std::to_string(d.num_classes); });
  site.require(d.loader.ignore_index >= d.num_classes && d.loader.ignore_index <= 255, "ignore_index",
               "be in [num_classes, 255]", [&] { return std::to_string(d.loader.ignore_index); });
  data::validate(d.loader, site);
  data::validate(d.train, site.nested("train"));
  if (d.has_val) data::validate(d.val, site.nested("val"));
}

void validate(const RunOptions& u, const OptionSite& site) {
  site.require(u.log_interval >= 1, "log_interval", "be >= 1", [&] { return std::to_string(u.log_interval); });
  site.require(u.val_interval >= 0, "val_interval", "be >= 0", [&] { return std::to_string(u.val_interval); });
  site.require(u.checkpoint_interval >= 1, "checkpoint_interval", "be >= 1",
               [&] { return std::to_string(u.checkpoint_interval); });
  site.require(u.keep_checkpoints >= 1, "keep_checkpoints", "be >= 1",
               [&] { return std::to_string(u.keep_checkpoints); });
  site.require(u.val_boundary_ratio > 0 && u.val_boundary_ratio < 1, "val_boundary_ratio", "be in (0, 1)",
               [&] { return number_text(u.val_boundary_ratio); });
  site.require(u.val_images >= 0, "val_images", "be >= 0", [&] { return std::to_string(u.val_images); });
}

void validate(const TrainSpec& spec, const OptionSite& site) {
  validate(spec.model, site.nested("model"));
  validate(spec.data, site.nested("data"));
  validate(spec.optimizer, site.nested("optimizer"));
  validate(spec.schedule, spec.optimizer.lr, site.nested("schedule"));
  site.require(!spec.losses.empty(), "losses", "be a non-empty list of loss terms", [] { return "none"; });
  const std::vector<std::string> read = losses::WeightedSum(spec.losses).targets();
  std::string read_text;
  for (const std::string& r : read) read_text += (read_text.empty() ? "" : ", ") + r;
  const OptionSite targets = site.nested("data").nested("targets");
  for (const auto& entry : spec.data.targets) {
    targets.require(std::find(read.begin(), read.end(), entry.first) != read.end(), entry.first,
                    "be read by a loss (the losses read " + read_text + ")", [] { return "a target no loss reads"; });
  }
  validate(spec.run, site.nested("run"));
}

losses::LossContext loss_context(const DataSpec& data) { return {data.num_classes, data.loader.ignore_index}; }

data::TargetContext target_context(const DataSpec& data) { return {data.num_classes, data.loader.ignore_index}; }

}  // namespace boundseg::train
