#include "bridge/base64.hpp"

#include <openssl/evp.h>

namespace wsbridge {

void append_base64(std::string& out, std::string_view in) {
  const std::size_t start = out.size();
  out.resize(start + 4 * ((in.size() + 2) / 3) + 1);  // EVP_EncodeBlock writes a NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + start),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(start + static_cast<std::size_t>(n));
}

bool append_base64_decoded(std::string& out, std::string_view in) {
  if (in.empty()) return true;
  std::string padded;
  if (in.size() % 4 != 0) {  // unpadded input (RFC 4648 §3.2 allows leaving '=' out)
    if (in.size() % 4 == 1) return false;
    padded.assign(in);
    padded.append(4 - in.size() % 4, '=');
    in = padded;
  }
  std::size_t pad = 0;
  while (pad < 2 && in[in.size() - 1 - pad] == '=') ++pad;
  // EVP_DecodeBlock skips leading and trailing blanks; we want strict input.
  if (in.find_first_of(" \t\r\n") != std::string_view::npos) return false;
  const std::size_t start = out.size();
  out.resize(start + in.size() / 4 * 3);
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data() + start),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0 || static_cast<std::size_t>(n) < pad) {
    out.resize(start);
    return false;
  }
  out.resize(start + static_cast<std::size_t>(n) - pad);  // it counts the padding as zero bytes
  return true;
}

}  // namespace wsbridge
