// The built-in training hooks, in the order the Trainer registers them.
#pragma once

#include <memory>

#include "boundseg/train/trainer.h"

namespace boundseg::train {

/// Resume from the newest checkpoint (before_train, with TrainerOptions::resume); an atomic checkpoint every
/// run.checkpoint_interval iterations and at the end, keeping the newest run.keep_checkpoints; the final
/// model.safetensors + model.json (after_train). Never writes non-finite weights.
std::unique_ptr<Hook> checkpoint_hook();

/// Progress bar, and every run.log_interval iterations a metrics.jsonl record (lr, loss, loss/<term>, step time,
/// data-wait fraction, images/s) mirrored to TensorBoard. A resumed run first drops the records after its start.
std::unique_ptr<Hook> logging_hook();

/// The poly learning rate with linear warm-up (learning_rate()) before every step.
std::unique_ptr<Hook> lr_schedule_hook();

/// Stops the run when the loss of any process is not finite, naming the iteration, the terms and the last good
/// checkpoint, before the update can spoil the weights.
std::unique_ptr<Hook> non_finite_loss_hook();

/// Whole-image validation on data.val every run.val_interval iterations and at the end (rank 0; the others wait):
/// val/mIoU, val/aAcc, val/bIoU records and run.val_images side-by-side pictures in TensorBoard.
std::unique_ptr<Hook> validation_hook();

}  // namespace boundseg::train
