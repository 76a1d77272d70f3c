// `ncut`: the normalized-cut regulariser on the softmax, the batch's RGB images and padding ROI (rloss.md §5.1).
#include "losses/terms/common.h"

namespace boundseg::losses {

LossEntry ncut_entry() {
  return detail::CrfRegulariser<NormalizedCutLossOptions, normalized_cut_loss>::entry(
      "ncut", "normalized-cut loss on the softmax (rloss): sigma_rgb, sigma_xy, scale_factor, gradient, lattice");
}

}  // namespace boundseg::losses
