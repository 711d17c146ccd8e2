#pragma once
// The values of command-line options, parsed and checked: durations and sizes with
// units, header lines, HTTP tokens, and the nearest option name for a typo. Used by
// the command line (config.cpp).

#include <boost/program_options/options_description.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace wsbridge {

/// "30", "0.5": a duration as the help shows it, in seconds.
std::string seconds(std::chrono::milliseconds d);

/// "30", "0.5", "500ms", "2s", "1.5m", "1h": a duration, in seconds unless a unit says
/// otherwise, above 0 (or 0 with `zero_ok`) and at most a day. False and *err (naming
/// --`name`) otherwise.
bool parse_seconds(const std::string& name, const std::string& text, std::chrono::milliseconds& out,
                   std::string* err, bool zero_ok = false);

/// "1048576", "64K", "100M", "1G" (powers of 1024; "KiB", "MB" and the like too).
bool parse_size(const std::string& name, const std::string& text, std::size_t& out, std::string* err);

/// An HTTP token (RFC 9110 §5.6.2): what header names and subprotocols are made of.
bool is_token(std::string_view s);

/// "Name: value" from -H. Refuses what would break or smuggle into the request.
bool parse_header(const std::string& line, std::string& name, std::string& value, std::string* err);

/// " (did you mean --x?)" for the option of `options` closest to `given`, or "".
std::string did_you_mean(const std::string& given, const boost::program_options::options_description& options);

}  // namespace wsbridge
