#include "bridge/cli/option_values.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "bridge/common/safe_text.hpp"

namespace po = boost::program_options;

namespace wsbridge {
namespace {

std::string hex_byte(unsigned char c) {
  std::string s = "0x";
  append_hex(s, c);
  return s;
}

}  // namespace

/// "30", "0.5": a duration as the help shows it, in seconds.
std::string seconds(std::chrono::milliseconds d) {
  std::ostringstream os;
  os << std::chrono::duration<double>(d).count();
  return os.str();
}

/// "30", "0.5", "500ms", "2s", "1.5m", "1h": a duration, in seconds unless a unit
/// says otherwise.
bool parse_seconds(const std::string& name, const std::string& text, std::chrono::milliseconds& out,
                   std::string* err, bool zero_ok) {
  double value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  const double scale = unit.empty() || unit == "s" ? 1 : unit == "ms" ? 0.001 : unit == "m" || unit == "min" ? 60
                       : unit == "h"                 ? 3600
                                                     : -1;
  value *= scale;
  if (ec != std::errc() || scale < 0 || !(value > 0 || (zero_ok && value == 0)) || !std::isfinite(value) ||
      value > 86400) {
    *err = "--" + name + ": expected a duration " + (zero_ok ? "from 0" : "above 0") +
           " to 86400 seconds: 30, 0.5, 500ms, 2m";
    return false;
  }
  out = std::chrono::milliseconds(static_cast<long long>(std::llround(value * 1000)));
  return true;
}

/// "1048576", "64K", "100M", "1G" (powers of 1024; "KiB", "MB" and the like too).
bool parse_size(const std::string& name, const std::string& text, std::size_t& out, std::string* err) {
  unsigned long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.ends_with("IB")) unit.erase(unit.size() - 2);
  else if (unit.size() > 1 && unit.ends_with("B")) unit.pop_back();
  const int shift = unit.empty() || unit == "B" ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
  if (ec != std::errc() || shift < 0 || value > (std::numeric_limits<std::size_t>::max() >> 30)) {
    *err = "--" + name + ": expected a size: 1048576, 64K, 100M, 1G";
    return false;
  }
  out = static_cast<std::size_t>(value) << shift;
  return true;
}

/// An HTTP token (RFC 9110 §5.6.2): what header names and subprotocols are made of.
bool is_token(std::string_view s) {
  static const std::string_view extra = "!#$%&'*+-.^_`|~";
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && extra.find(c) == std::string_view::npos) return false;
  return !s.empty();
}

/// "Name: value" from -H. Refuses what would break or smuggle into the request.
bool parse_header(const std::string& line, std::string& name, std::string& value, std::string* err) {
  const auto colon = line.find(':');
  if (colon == std::string::npos || !is_token(line.substr(0, colon))) {
    *err = "-H '" + line + "': expected 'Name: value' with a valid header name";
    return false;
  }
  name = line.substr(0, colon);
  value = line.substr(colon + 1);
  value.erase(0, value.find_first_not_of(" \t"));
  // RFC 9110 §5.5: a field value is visible characters, spaces and tabs; obs-text
  // (bytes 0x80-0xFF) is tolerated. Any other control would reach the server as it is.
  for (const char ch : value)
    if (const auto c = static_cast<unsigned char>(ch); (c < 0x20 && c != '\t') || c == 0x7f) {
      *err = "-H '" + name + "': the value must not contain control characters (" +
             (c == '\r' || c == '\n' ? std::string("a line break") : "byte " + hex_byte(c)) + ")";
      return false;
    }
  static const char* const reserved[] = {"host", "upgrade", "connection", "sec-websocket-key",
                                         "sec-websocket-version", "sec-websocket-extensions"};
  for (const char* r : reserved)
    if (boost::iequals(name, r)) {
      *err = "-H '" + name + "': set by wsbridge itself for the WebSocket handshake";
      return false;
    }
  return true;
}

/// " (did you mean --x?)" for the visible option closest to `given` (Levenshtein
/// distance, at most a third of its length), or "".
std::string did_you_mean(const std::string& given, const po::options_description& options) {
  const std::string word = given.substr(given.find_first_not_of('-') == std::string::npos ? 0 : given.find_first_not_of('-'));
  std::string best;
  std::size_t best_distance = word.size() / 3 + 1;
  for (const auto& option : options.options()) {
    const std::string& name = option->long_name();
    if (name.empty()) continue;
    std::vector<std::size_t> row(name.size() + 1);
    for (std::size_t j = 0; j <= name.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= name.size(); ++j) {
        const std::size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (word[i - 1] == name[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    // A prefix of a longer name is a close guess too (--connect for --connect-timeout).
    const std::size_t distance = name.starts_with(word) && word.size() >= 2 ? 0 : row[name.size()];
    if (distance < best_distance) {
      best_distance = distance;
      best = name;
    }
  }
  return best.empty() ? "" : " (did you mean --" + best + "?)";
}

}  // namespace wsbridge
