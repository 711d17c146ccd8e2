#include "bridge/framing/output_framer.hpp"

#include <boost/endian/conversion.hpp>
#include <cstring>

#include "bridge/common/base64.hpp"
#include "bridge/framing/display.hpp"

namespace wsbridge {

void output_framer::append_payload(ipc::frame_type type, std::string_view payload, std::string& out) const {
  // --binary-prefix: binary as base64 after its prefix; --text-prefix: text after its.
  const bool binary = type == ipc::frame_type::binary;
  const std::string& prefix = binary ? typing_.binary_prefix : typing_.text_prefix;
  if (mode_ == framing::lines || mode_ == framing::null) out += prefix;
  if (binary && (base64_ || !typing_.binary_prefix.empty())) append_base64(out, payload);
  else out.append(payload);
}

void output_framer::append_record(ipc::frame_type type, std::string_view payload, char separator,
                                  std::string& out) {
  const std::size_t start = out.size();
  append_payload(type, payload, out);
  split_seen_ = split_seen_ || std::memchr(out.data() + start, separator, out.size() - start) != nullptr;
  out += separator;
}

void output_framer::append(ipc::frame_type type, std::string_view payload, std::string& out) {
  if (terminal_) {
    append_for_terminal(out, type, payload);
    out += '\n';
    return;
  }
  switch (mode_) {
    case framing::lines:
      if (escape_newlines_ && !((base64_ || !typing_.binary_prefix.empty()) && type == ipc::frame_type::binary)) {
        out += type == ipc::frame_type::binary ? typing_.binary_prefix : typing_.text_prefix;
        for (char c : payload) {
          if (c == '\\') out += "\\\\";
          else if (c == '\n') out += "\\n";
          else if (c == '\r') out += "\\r";
          else out += c;
        }
        out += '\n';
      } else {
        append_record(type, payload, '\n', out);
      }
      break;
    case framing::null:
      append_record(type, payload, '\0', out);
      break;
    case framing::length_prefixed: {
      const std::size_t at = out.size();
      out.append(4, '\0');
      append_payload(type, payload, out);
      const std::size_t n = out.size() - at - 4;  // < 2^31: IPC payloads are capped far lower
      // --typed: the top bit marks a binary message (message_typing).
      const std::uint32_t bit = typing_.length_bit && type == ipc::frame_type::binary ? 0x8000'0000U : 0;
      boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(&out[at]), static_cast<std::uint32_t>(n) | bit);
      break;
    }
    case framing::raw:
      append_payload(type, payload, out);
      break;
  }
}

std::string output_framer::take_warning() {
  if (!split_seen_ || warned_) return {};
  warned_ = true;
  if (mode_ == framing::null)
    return "a received message contains NUL bytes, so it became several records "
           "(--length-prefixed keeps every message whole)";
  return "a received message contains line breaks, so it became several lines "
         "(--escape-newlines, -0 or --length-prefixed keep one message per record)";
}

}  // namespace wsbridge
