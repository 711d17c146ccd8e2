#include "bridge/common/module_loader.hpp"

#include <climits>
#include <dlfcn.h>
#include <unistd.h>

namespace wsbridge {

void* load_module(const char* file, const char* entry, const char* what, std::string* err) {
  // Beside the executable (a build tree), then where an install puts the modules
  // relative to it (a moved install), then where this build installs them.
  std::string beside, relative;
  char exe[PATH_MAX];
  if (const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1); n > 0) {
    const std::string path(exe, static_cast<std::size_t>(n));
    const std::string dir = path.substr(0, path.rfind('/') + 1);
    beside = dir + file;
    relative = dir + WSBRIDGE_MODULE_RELDIR "/" + file;
  }
  for (const std::string& path : {beside, relative, std::string(WSBRIDGE_MODULE_DIR "/") + file}) {
    if (path.empty() || ::access(path.c_str(), F_OK) != 0) continue;
    void* module = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!module) {
      *err = std::string("cannot load the ") + what + ": " + ::dlerror();
      return nullptr;
    }
    if (void* p = ::dlsym(module, entry)) return p;
    *err = std::string("cannot load the ") + what + ": " + path + " has no " + entry;
    return nullptr;
  }
  *err = std::string("cannot find the ") + what + " " + file + " beside the program, in " +
         (relative.empty() ? std::string(WSBRIDGE_MODULE_RELDIR) : relative.substr(0, relative.rfind('/'))) + " or in " +
         WSBRIDGE_MODULE_DIR;
  return nullptr;
}

}  // namespace wsbridge
