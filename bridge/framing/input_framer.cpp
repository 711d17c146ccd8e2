#include "bridge/framing/input_framer.hpp"

#include <boost/endian/conversion.hpp>
#include <cstring>

#include "bridge/protocol/ipc.hpp"
#include "bridge/common/safe_text.hpp"
#include "bridge/common/base64.hpp"

namespace wsbridge {

std::string input_framer::current_name() const {
  return std::string(mode_ == framing::lines ? "line " : "message ") + std::to_string(messages_ + 1);
}

bool input_framer::emit_record(std::string_view record, std::string& frames, std::string* err) {
  // The longer prefix first: one may start with the other ("t" and "tb").
  const bool binary_first = typing_.binary_prefix.size() >= typing_.text_prefix.size();
  for (int i = 0; i < 2; ++i) {
    const bool binary = (i == 0) == binary_first;
    const std::string& prefix = binary ? typing_.binary_prefix : typing_.text_prefix;
    if (!prefix.empty() && record.starts_with(prefix))
      return emit(record.substr(prefix.size()), binary ? payload_encoding::base64 : payload_encoding::text, frames, err);
  }
  return emit(record, encoding_, frames, err);
}

bool input_framer::emit(std::string_view payload, payload_encoding encoding, std::string& frames, std::string* err) {
  switch (encoding) {
    case payload_encoding::text:
      // RFC 6455 §8.1: a text message is UTF-8; sending anything else would have a
      // conforming server fail the connection (1007), so refuse it here, by name.
      if (const std::size_t valid = utf8_valid_prefix(payload); valid != payload.size()) {
        *err = current_name() + " is not valid UTF-8 (at byte " + std::to_string(valid + 1) +
               "); --binary sends bytes as they are";
        return false;
      }
      ipc::append_frame(frames, ipc::frame_type::text, payload);
      break;
    case payload_encoding::binary:
      ipc::append_frame(frames, ipc::frame_type::binary, payload);
      break;
    case payload_encoding::base64:
      decoded_.clear();
      if (!append_base64_decoded(decoded_, payload)) {
        *err = current_name() + " is not valid base64";
        return false;
      }
      ipc::append_frame(frames, ipc::frame_type::binary, decoded_);
      break;
  }
  ++messages_;
  return true;
}

bool input_framer::feed(std::string_view data, std::string& frames, std::string* err) {
  switch (mode_) {
    case framing::lines: return feed_delimited(data, '\n', frames, err);
    case framing::null: return feed_delimited(data, '\0', frames, err);
    case framing::length_prefixed: return feed_length_prefixed(data, frames, err);
    case framing::raw: return feed_raw(data, frames, err);
  }
  return false;
}

bool input_framer::feed_delimited(std::string_view data, char delimiter, std::string& frames, std::string* err) {
  const auto emit_one = [&](std::string_view record) {
    if (mode_ == framing::lines && !record.empty() && record.back() == '\r') record.remove_suffix(1);
    return emit_record(record, frames, err);
  };
  while (!data.empty()) {
    const void* end = std::memchr(data.data(), delimiter, data.size());
    const std::size_t len =
        end ? static_cast<std::size_t>(static_cast<const char*>(end) - data.data()) : data.size();
    // The limit holds for a record in one read and for one gathered over many, at any
    // split of the reads. A line's final "\r" is not part of the message (it may still
    // be waiting for its "\n").
    const bool cr = mode_ == framing::lines &&
                    (len > 0 ? data[len - 1] == '\r' : !partial_.empty() && partial_.back() == '\r');
    if (partial_.size() + len - (cr ? 1 : 0) > max_message_) {
      *err = current_name() + " is longer than " + std::to_string(max_message_) + " bytes";
      return false;
    }
    if (!end) {
      partial_.append(data);
      break;
    }
    if (partial_.empty()) {
      if (!emit_one(data.substr(0, len))) return false;  // the common case: no copy
    } else {
      partial_.append(data.substr(0, len));
      if (!emit_one(partial_)) return false;
      partial_.clear();
    }
    data.remove_prefix(len + 1);
  }
  return true;
}

bool input_framer::feed_length_prefixed(std::string_view data, std::string& frames, std::string* err) {
  // Whole messages straight from `data`; a piece of one waits in partial_.
  std::string_view buf = data;
  if (!partial_.empty()) {
    partial_.append(data);
    buf = partial_;
  }
  std::size_t used = 0;
  for (;;) {
    const std::string_view rest = buf.substr(used);
    if (rest.size() < 4) break;
    const auto* p = reinterpret_cast<const unsigned char*>(rest.data());
    std::uint64_t len = boost::endian::load_big_u32(p);
    // --typed: the top bit says binary (message_typing), the rest is the length.
    const bool binary = typing_.length_bit && (len & 0x8000'0000U) != 0;
    if (typing_.length_bit) len &= 0x7fff'ffffU;
    if (len > max_message_) {
      *err = current_name() + ": its length prefix says " + std::to_string(len) + " bytes, over the limit of " +
             std::to_string(max_message_);
      return false;
    }
    if (rest.size() - 4 < len) break;
    const payload_encoding type = !typing_.length_bit ? encoding_
                                  : binary         ? payload_encoding::binary
                                                   : payload_encoding::text;
    if (!emit(rest.substr(4, len), type, frames, err)) return false;
    used += 4 + len;
  }
  if (buf.data() == partial_.data()) partial_.erase(0, used);
  else partial_.assign(buf.substr(used));
  return true;
}

bool input_framer::emit_raw(std::string_view bytes, std::string& frames, std::string* err) {
  // A read is at most limits::read_chunk, far below the limit; the limit still holds
  // for any caller. Text is cut between UTF-8 sequences (it is valid UTF-8 here).
  while (bytes.size() > max_message_) {
    std::size_t n = max_message_;
    while (encoding_ == payload_encoding::text && n > 1 && is_utf8_continuation(static_cast<unsigned char>(bytes[n]))) --n;
    if (!emit(bytes.substr(0, n), encoding_, frames, err)) return false;
    bytes.remove_prefix(n);
  }
  return emit(bytes, encoding_, frames, err);
}

bool input_framer::feed_raw(std::string_view data, std::string& frames, std::string* err) {
  if (encoding_ != payload_encoding::text) return emit_raw(data, frames, err);
  // A read may end inside a UTF-8 sequence: hold those bytes for the next read.
  std::string_view buf = data;
  if (!partial_.empty()) {
    partial_.append(data);
    buf = partial_;
  }
  bool incomplete = false;
  const std::size_t valid = utf8_valid_prefix(buf, &incomplete);
  if (valid < buf.size() && !incomplete) {
    *err = "input is not valid UTF-8 (at byte " + std::to_string(raw_offset_ + valid + 1) + " of the input" +
           "); --binary sends bytes as they are";
    return false;
  }
  if (valid > 0 && !emit_raw(buf.substr(0, valid), frames, err)) return false;
  raw_offset_ += valid;
  const std::string tail(buf.substr(valid));  // buf may be partial_ itself
  partial_ = tail;
  return true;
}

bool input_framer::finish(std::string& frames, std::string* err) {
  if (partial_.empty()) return true;
  if (mode_ == framing::length_prefixed) {
    *err = "input ended inside " + current_name() + " (" + std::to_string(partial_.size()) +
           " bytes of it, with its length prefix)";
    return false;
  }
  if (mode_ == framing::raw) {
    // Only a cut sequence is held back (feed_raw), so this is one that input ended in.
    *err = "input ended inside a UTF-8 sequence (at byte " + std::to_string(raw_offset_ + 1) +
           "); --binary sends bytes as they are";
    return false;
  }
  const std::string last = std::move(partial_);
  partial_.clear();
  if (mode_ == framing::lines && !last.empty() && last.back() == '\r')
    return emit_record(std::string_view(last).substr(0, last.size() - 1), frames, err);
  return emit_record(last, frames, err);
}

}  // namespace wsbridge
