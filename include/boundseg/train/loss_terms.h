// Training losses composed by name from the config: a weighted sum of terms, each on one network output.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace boundseg::config {
struct LossTermConfig;
}
namespace boundseg::data {
struct Batch;
}

namespace boundseg::train {

/// Loss names a config may use: ce (class-weighted cross entropy), ohem_ce (OHEM cross entropy, hrnet_ocr.md §4),
/// boundary_ce (the same cross entropy on the pixels of the batch's boundary map only), and the weak-supervision
/// terms of rloss.md: pce (partial cross entropy on scribbles), densecrf (DenseCRF loss), ncut (normalized cut), size
/// (lower size bounds for the classes labelled in the crop).
std::vector<std::string> registered_losses();

/// Σ weight_i · loss_i(outputs[output_i], target).
class CompositeLoss {
 public:
  CompositeLoss(std::vector<config::LossTermConfig> terms, int64_t ignore_index);

  struct Value {
    at::Tensor total;  ///< 0-d, differentiable
    /// "<type>/<output>" -> unweighted term value, for logging.
    std::vector<std::pair<std::string, double>> terms;
  };
  /// outputs: name -> (N, K, H, W) logits at the batch's crop size; the batch supplies labels, RGB images and ROI.
  Value operator()(const std::map<std::string, at::Tensor>& outputs, const data::Batch& batch) const;

  /// Output names the terms read (a network must produce them).
  std::vector<std::string> outputs() const;

 private:
  std::vector<config::LossTermConfig> terms_;
  int64_t ignore_index_;
};

}  // namespace boundseg::train
