// Atomic writes (temp file + fsync + rename) and whole-file reads.
#include "boundseg/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "boundseg/core/error.h"

namespace boundseg::io {
namespace fs = std::filesystem;

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) fail("write", "the directory '" + parent.string() + "'", "be creatable", ec.message());
  std::random_device rd;
  const fs::path tmp = parent / ("." + path.filename().string() + ".tmp" +
                                 std::to_string(getpid()) + "_" + std::to_string(rd()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail("write", "the file '" + tmp.string() + "'", "be writable", std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      fs::remove(tmp, ec);
      fail("write", "the file '" + path.string() + "'", "be writable", why);
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    fs::remove(tmp, ec);
    fail("write", "the file '" + path.string() + "'", "be writable", why);
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignore;
    fs::remove(tmp, ignore);
    fail("write", "the file '" + path.string() + "'", "be replaceable", ec.message());
  }
}

std::string read_file(const fs::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    fail(what, "the file '" + path.string() + "'", "exist and be readable",
         fs::exists(path, ec) ? "an unreadable file" : "no such file");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace boundseg::io
