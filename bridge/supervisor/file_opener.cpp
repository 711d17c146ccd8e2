#include "bridge/supervisor/file_opener.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bridge/protocol/ipc.hpp"
#include "bridge/protocol/static_files.hpp"

namespace wsbridge {

namespace {

/// openat2(2) (Linux 5.6; glibc 2.36 has no wrapper).
int open_beneath(int dirfd, const char* path) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd;
  do fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  return static_cast<int>(fd);
}

}  // namespace

opened_file open_static_file(const std::string& dir, std::string_view path) {
  opened_file out{unique_fd{}, std::string(ipc::file_missing)};
  if (!static_path_allowed(path)) return out;
  const unique_fd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return out;
  const bool wants_directory = path.empty() || path.back() == '/';
  std::string name(path);
  if (name.empty()) name = ".";
  unique_fd fd(open_beneath(root.get(), name.c_str()));
  if (!fd) return out;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return out;
  if (S_ISDIR(st.st_mode)) {
    if (!wants_directory) {
      out.answer = std::string(ipc::file_is_directory);
      return out;
    }
    fd.reset(open_beneath(fd.get(), "index.html"));
    if (!fd || ::fstat(fd.get(), &st) != 0) return out;
  }
  if (!S_ISREG(st.st_mode)) return out;
  out.fd = std::move(fd);
  out.answer = std::string(ipc::file_found) + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtime);
  return out;
}

void answer_file_request(int channel, const std::string& dir, std::string_view path) {
  opened_file file;
  file.answer = std::string(ipc::file_missing);
  if (!dir.empty()) file = open_static_file(dir, path);
  std::string frame;
  ipc::append_frame(frame, ipc::frame_type::file_answer, file.answer);
  if (file.fd) send_with_fd(channel, frame, file.fd.get());
  else write_all(channel, frame);
}

}  // namespace wsbridge
