// `boundseg refine <refiner>`: refiners of any model's output, one child command per file.
#include "commands.h"

namespace boundseg::cli {

Command add_refine(CLI::App& app) {
  // One line per refiner (cmd_refine_<name>.cpp).
  return add_group(app, "refine", "Refine a model's output", {add_refine_crf});
}

}  // namespace boundseg::cli
