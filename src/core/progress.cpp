// Progress bar: redraws at most ~10 times a second; without a terminal only
// the final line is printed so logs stay readable.
#include "boundseg/core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace boundseg {

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::advance(int64_t n) {
  const int64_t done = done_.fetch_add(n) + n;
  if (!enabled_ || !tty_) return;
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(draw_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
  last_draw_ = now;
  draw(done, false);
}

void ProgressBar::finish() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(draw_mutex_);
  if (finished_) return;
  finished_ = true;
  draw(done_.load(), true);
}

void ProgressBar::draw(int64_t done, bool final_line) {
  constexpr int kWidth = 30;
  const double seconds = std::chrono::duration<double>(
      std::chrono::steady_clock::now() - start_).count();
  const double fraction = total_ > 0 ? double(done) / double(total_) : 1.0;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  const double rate = seconds > 0 ? double(done) / seconds : 0.0;
  const double eta = rate > 0 ? double(total_ - done) / rate : 0.0;
  std::fprintf(stderr, "%s%s [%s] %lld/%lld  %.1fs elapsed%s", tty_ ? "\r" : "",
               label_.c_str(), bar.c_str(), static_cast<long long>(done),
               static_cast<long long>(total_), seconds,
               final_line ? "" : (" eta " + std::to_string(int(eta)) + "s").c_str());
  if (final_line) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace boundseg
