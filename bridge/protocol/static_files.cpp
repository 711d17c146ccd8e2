#include "bridge/protocol/static_files.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>

namespace wsbridge {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Control characters (NUL ends a C path early; the rest have no business in a name
/// served to a browser) are refused, raw or percent-encoded.
bool control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

bool segment_allowed(std::string_view s) { return !s.empty() && s.front() != '.'; }

constexpr std::array<const char*, 7> days = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

std::optional<std::string> static_path(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  if (const auto q = target.find_first_of("?#"); q != std::string_view::npos) target = target.substr(0, q);
  std::string path, segment;
  const auto end_segment = [&]() {
    if (segment.empty()) return true;  // "//" collapses
    if (!segment_allowed(segment)) return false;
    if (!path.empty()) path += '/';
    path += segment;
    segment.clear();
    return true;
  };
  for (std::size_t i = 1; i < target.size(); ++i) {
    char c = target[i];
    if (c == '/') {
      if (!end_segment()) return std::nullopt;
      continue;
    }
    if (c == '%') {
      if (i + 2 >= target.size()) return std::nullopt;
      const int hi = hex_value(target[i + 1]), lo = hex_value(target[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
      // An escaped '/' would make one segment two.
      if (c == '/') return std::nullopt;
    }
    if (c == '\\' || control(c)) return std::nullopt;
    segment += c;
  }
  const bool directory = target.size() > 1 && target.back() == '/';
  if (!end_segment()) return std::nullopt;
  if (directory && !path.empty()) path += '/';
  return path;
}

bool static_path_allowed(std::string_view path) {
  if (path.empty()) return true;
  if (path.front() == '/' || path.find('\\') != std::string_view::npos ||
      std::any_of(path.begin(), path.end(), control))
    return false;
  if (path.back() == '/') path.remove_suffix(1);
  for (std::size_t pos = 0;;) {
    const std::size_t slash = path.find('/', pos);
    if (!segment_allowed(path.substr(pos, slash - pos))) return false;
    if (slash == std::string_view::npos) return true;
    pos = slash + 1;
  }
}

std::string_view content_type_for(std::string_view path) {
  struct type {
    const char* ext;
    const char* mime;
  };
  static constexpr type types[] = {
      {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},   {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
      {"txt", "text/plain; charset=utf-8"}, {"md", "text/markdown; charset=utf-8"},
      {"csv", "text/csv; charset=utf-8"},   {"xml", "application/xml"},
      {"svg", "image/svg+xml"},             {"png", "image/png"},
      {"jpg", "image/jpeg"},                {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},                 {"webp", "image/webp"},
      {"avif", "image/avif"},               {"ico", "image/vnd.microsoft.icon"},
      {"wasm", "application/wasm"},         {"map", "application/json"},
      {"pdf", "application/pdf"},           {"woff", "font/woff"},
      {"woff2", "font/woff2"},              {"ttf", "font/ttf"},
      {"mp3", "audio/mpeg"},                {"ogg", "audio/ogg"},
      {"wav", "audio/wav"},                 {"mp4", "video/mp4"},
      {"webm", "video/webm"},               {"zip", "application/zip"},
      {"gz", "application/gzip"},
  };
  const auto slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  std::string ext(name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& t : types)
    if (ext == t.ext) return t.mime;
  return "application/octet-stream";
}

std::string http_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[static_cast<std::size_t>(tm.tm_wday)],
                tm.tm_mday, months[static_cast<std::size_t>(tm.tm_mon)], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT": fixed positions, 29 characters.
  if (text.size() != 29 || text.substr(3, 2) != ", " || text.substr(25) != " GMT") return std::nullopt;
  const auto number = [&](std::size_t at, std::size_t n, int& out) {
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  std::tm tm{};
  int month = -1;
  for (int m = 0; m < 12; ++m)
    if (text.substr(8, 3) == months[static_cast<std::size_t>(m)]) month = m;
  if (month < 0 || text[7] != ' ' || text[11] != ' ' || text[16] != ' ' || text[19] != ':' || text[22] != ':' ||
      !number(5, 2, tm.tm_mday) || !number(12, 4, tm.tm_year) || !number(17, 2, tm.tm_hour) ||
      !number(20, 2, tm.tm_min) || !number(23, 2, tm.tm_sec))
    return std::nullopt;
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) return std::nullopt;
  tm.tm_mon = month;
  tm.tm_year -= 1900;
  return ::timegm(&tm);
}

}  // namespace wsbridge
