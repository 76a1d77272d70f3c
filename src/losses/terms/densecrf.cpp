// `densecrf`: the DenseCRF regulariser on the softmax, the batch's RGB images and padding ROI (rloss.md §1). The
// loss weight is the term's `weight` (rloss PyTorch: 2e-9 at 513² crops; retune for other crops and scales).
#include "losses/terms/common.h"

namespace boundseg::losses {

LossEntry densecrf_entry() {
  return detail::CrfRegulariser<DenseCrfLossOptions, dense_crf_loss>::entry(
      "densecrf", "DenseCRF loss on the softmax (rloss): sigma_rgb, sigma_xy, scale_factor, gradient, lattice");
}

}  // namespace boundseg::losses
