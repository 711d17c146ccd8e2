#include "netproc/tls_module.hpp"

#include <climits>
#include <dlfcn.h>
#include <unistd.h>

namespace wsbridge::netproc {

tls_session_fn load_tls_module(std::string* err) {
  static constexpr const char* file = "wsbridge-tls.so";
  std::string beside;
  char exe[PATH_MAX];
  if (const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1); n > 0) {
    const std::string path(exe, static_cast<std::size_t>(n));
    beside = path.substr(0, path.rfind('/') + 1) + file;
  }
  std::string tried;
  for (const std::string& path : {beside, std::string(WSBRIDGE_MODULE_DIR "/") + file}) {
    if (path.empty() || ::access(path.c_str(), F_OK) != 0) continue;
    void* module = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!module) {
      *err = std::string("cannot load the TLS module: ") + ::dlerror();
      return nullptr;
    }
    if (auto* entry = reinterpret_cast<tls_session_fn>(::dlsym(module, tls_entry_point))) return entry;
    *err = "cannot load the TLS module: " + path + " has no " + tls_entry_point;
    return nullptr;
  }
  *err = std::string("cannot find the TLS module ") + file + " beside the program or in " + WSBRIDGE_MODULE_DIR;
  return nullptr;
}

}  // namespace wsbridge::netproc
