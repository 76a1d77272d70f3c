// A thread-safe progress bar on stderr (redrawn in place on a terminal).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace boundseg {

class ProgressBar {
 public:
  /// `enabled = false` makes every call a no-op (library use, --quiet).
  ProgressBar(std::string label, int64_t total, bool enabled = true);
  ~ProgressBar();
  /// Adds `n` finished items; safe to call from worker threads.
  void advance(int64_t n = 1);
  /// Draws the final state and a newline (idempotent).
  void finish();

 private:
  void draw(int64_t done, bool final_line);

  std::string label_;
  int64_t total_;
  bool enabled_;
  bool tty_;
  std::atomic<int64_t> done_{0};
  std::mutex draw_mutex_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool finished_ = false;
};

}  // namespace boundseg
