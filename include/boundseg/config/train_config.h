// The training configuration file: YAML with `_base_` inheritance and `--set` overrides, read key by key into the
// library's train::TrainSpec (every key, its default and meaning: docs/CONFIG.md). The only YAML user.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "boundseg/train/spec.h"

namespace boundseg::config {

/// Reads `path`: `_base_` (a path or a list of paths, relative to the file) is loaded first, recursively, and the
/// file's own keys are merged over it (maps key by key, everything else replaced); then each "a.b.c=value" of
/// `overrides` is applied (value parsed as YAML). Unknown keys, wrong types and invalid values raise
/// boundseg::Error naming the key path, e.g. "boundseg config: optimizer.lr must be a number, but got 'fast'.".
/// Losses and targets read their own keys (losses[i].<key>, data.targets.<name>.<key>) through their key lists.
train::TrainSpec load_train_config(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});

/// The resolved configuration as YAML (every key, with defaults filled in); loading it gives the same spec.
std::string to_yaml(const train::TrainSpec& spec);

}  // namespace boundseg::config
