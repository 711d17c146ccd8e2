#pragma once
// --static-dir: what a request may name, shared by netproc (which reads the request)
// and the supervisor (which opens the file, beneath the directory: the sandboxed netproc
// cannot open files). Pure code, unit-tested and fuzzed: a path that passes here names
// a file beneath the directory, never a dotfile, and is then opened with openat2's
// RESOLVE_BENEATH, which also refuses a symlink leading out.

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace wsbridge {

/// The path a request target names, relative to the directory: the query and fragment
/// dropped, percent-decoding applied (RFC 3986 §2.1), empty segments collapsed; "" for
/// the root, and a trailing '/' kept ("docs/"). Nothing when the target names no file
/// that may be served: not starting with '/', a bad or '/' percent-escape, a control
/// character (raw or escaped, NUL included), a backslash, a "." or ".." segment, or a
/// segment starting with '.' (dotfiles, such as .git or .env, are never served).
std::optional<std::string> static_path(std::string_view target);

/// True for a relative path static_path() could have produced: what the supervisor
/// checks again before opening it (netproc is not trusted).
bool static_path_allowed(std::string_view path);

/// The Content-Type for a file's name, by its extension; text types with charset=utf-8.
std::string_view content_type_for(std::string_view path);

/// An HTTP date (RFC 9110 §5.6.7, IMF-fixdate): "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(std::time_t t);
/// The time an IMF-fixdate names, or nothing (the obsolete formats are not accepted:
/// a browser sends back the Last-Modified it was given).
std::optional<std::time_t> parse_http_date(std::string_view text);

}  // namespace wsbridge
