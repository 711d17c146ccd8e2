#pragma once
// Optional parts of wsbridge live in modules, loaded only by a session that needs them:
// wsbridge-tls.so (OpenSSL, for wss://, netproc/tls_module.hpp) and wsbridge-term.so
// (the line editor, for a terminal, ioproc/terminal_mode.hpp). Each dependency that
// a program links costs every start: its loading and relocation, and all three
// processes carrying its mappings through fork and exit.

#include <string>

namespace wsbridge {

/// Loads module `file` from beside the executable, or else from the directory modules
/// are installed in, and returns its entry point `entry`. Returns nullptr and fills *err
/// with one line, "cannot find the <what> wsbridge-x.so beside the program or in DIR"
/// or "cannot load the <what>: <why>". A module, once loaded, stays.
void* load_module(const char* file, const char* entry, const char* what, std::string* err);

}  // namespace wsbridge
