#pragma once
// Names of WebSocket close codes (RFC 6455 §7.4.1 and the IANA registry).

#include <cstdint>

namespace wsbridge {

/// The close codes wsbridge itself sends or reports (RFC 6455 §7.4.1).
enum close_code : std::uint16_t {
  close_normal = 1000,
  close_going_away = 1001,
  close_protocol_error = 1002,
  close_no_status = 1005,  ///< reported for a Close without a code; never sent (§7.1.5)
  close_abnormal = 1006,   ///< reported when the connection ended without a Close; never sent
  close_invalid_payload = 1007,  ///< server mode: the --exec program wrote text that is not UTF-8
  close_too_big = 1009,
  close_internal_error = 1011,  ///< server mode: the --exec program failed
};

/// RFC 6455 §7.4: the codes an endpoint may send in a Close frame: 1000-1003,
/// 1007-1014 (1004-1006 and 1015 are reserved, never sent) and 3000-4999.
inline bool sendable_close_code(long code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

inline const char* close_code_meaning(std::uint16_t code) {
  switch (code) {
    case 1000: return "normal closure";
    case 1001: return "going away";
    case 1002: return "protocol error";
    case 1003: return "unsupported data";
    case 1005: return "no status code";
    case 1006: return "abnormal closure";
    case 1007: return "invalid payload data";
    case 1008: return "policy violation";
    case 1009: return "message too big";
    case 1010: return "mandatory extension";
    case 1011: return "internal server error";
    case 1012: return "service restart";
    case 1013: return "try again later";
    case 1014: return "bad gateway";
    case 1015: return "TLS handshake failure";
    default: return code >= 4000 && code <= 4999 ? "application-defined" : "unknown code";
  }
}

}  // namespace wsbridge
