#include "bridge/protocol/ip_ranges.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/error.hpp>
#include <charconv>

namespace wsbridge {

namespace {

boost::asio::ip::address unmapped(const boost::asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  return a;
}

}  // namespace

bool ip_range::contains(const boost::asio::ip::address& raw) const {
  const auto a = unmapped(raw);
  if (a.is_v4() != base.is_v4()) return false;
  const auto bytes = [](const boost::asio::ip::address& x) {
    std::array<unsigned char, 16> out{};
    if (x.is_v4()) {
      const auto b = x.to_v4().to_bytes();
      std::copy(b.begin(), b.end(), out.begin());
    } else {
      out = x.to_v6().to_bytes();
    }
    return out;
  };
  const auto x = bytes(a), y = bytes(base);
  for (unsigned bit = 0; bit < prefix; ++bit) {
    const unsigned mask = 0x80u >> (bit % 8);
    if ((x[bit / 8] & mask) != (y[bit / 8] & mask)) return false;
  }
  return true;
}

bool parse_ip_ranges(std::string_view list, std::vector<ip_range>& out, std::string* err) {
  for (std::size_t pos = 0; pos <= list.size();) {
    std::size_t end = list.find(',', pos);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    pos = end + 1;
    if (item.empty()) continue;
    ip_range r;
    const std::size_t slash = item.find('/');
    boost::system::error_code ec;
    r.base = unmapped(boost::asio::ip::make_address(std::string(item.substr(0, slash)), ec));
    const unsigned max = r.base.is_v4() ? 32 : 128;
    r.prefix = max;
    if (!ec && slash != std::string_view::npos) {
      const std::string_view bits = item.substr(slash + 1);
      const auto [p, e] = std::from_chars(bits.data(), bits.data() + bits.size(), r.prefix);
      if (e != std::errc() || p != bits.data() + bits.size() || bits.empty() || r.prefix > max)
        ec = boost::asio::error::invalid_argument;
    }
    if (ec) {
      *err = "'" + std::string(item) + "' is not an address or a range (ADDRESS or ADDRESS/BITS)";
      return false;
    }
    out.push_back(r);
  }
  if (out.empty()) {
    *err = "no address given";
    return false;
  }
  return true;
}

bool in_ranges(std::string_view address, const std::vector<ip_range>& ranges) {
  boost::system::error_code ec;
  const auto a = boost::asio::ip::make_address(std::string(address), ec);
  if (ec) return false;
  for (const auto& r : ranges)
    if (r.contains(a)) return true;
  return false;
}

}  // namespace wsbridge
