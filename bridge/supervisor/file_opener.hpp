#pragma once
// --static-dir: the supervisor's half of serving a file. netproc, sandboxed, cannot open
// files; it asks for the path a request names (a `file_request` frame), and the
// supervisor opens it here, beneath the directory only, and passes the descriptor.

#include <string>
#include <string_view>

#include "bridge/common/fd_util.hpp"

namespace wsbridge {

struct opened_file {
  unique_fd fd;                  ///< a regular file, open read-only; -1 if none
  std::string answer;            ///< ipc::file_found " SIZE MTIME", file_is_directory or file_missing
};

/// Opens `path` (as static_path() makes it; checked again here: netproc is not trusted)
/// beneath `dir` with openat2(2) and RESOLVE_BENEATH, so that neither ".." nor a
/// symlink can lead out of it, nor a magic link of /proc. A directory named with a
/// trailing '/' (or the root) gives its index.html; without one, file_is_directory (the
/// client is redirected to the name with the '/'). Anything but a regular file is
/// missing: a FIFO, a device or a socket is never opened for reading (O_NONBLOCK also
/// keeps a FIFO's open from waiting for a writer).
opened_file open_static_file(const std::string& dir, std::string_view path);

/// Answers netproc's `file_request` for `path` on `channel` (a Unix socket): the file
/// beneath `dir` with its descriptor attached, or file_missing without --static-dir
/// (empty `dir`). A netproc gone meanwhile is the caller's to find (it reaps).
void answer_file_request(int channel, const std::string& dir, std::string_view path);

}  // namespace wsbridge
