// Atomic file output: write a temporary file beside the target, then rename.
#pragma once

#include <filesystem>
#include <string_view>

namespace boundseg::io {

/// Writes `bytes` to `path` atomically: readers see the old file or the whole
/// new one, never a partial file. Parent directories are created.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

/// Reads a whole file; errors name the path.
std::string read_file(const std::filesystem::path& path, std::string_view what);

}  // namespace boundseg::io
