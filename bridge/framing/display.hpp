#pragma once
// What is shown to the user about messages and connections: by ioproc (pipe mode and
// terminal mode), and by netproc for a server's --exec program.

#include <cstdint>
#include <string>
#include <string_view>

#include "bridge/protocol/ipc.hpp"
#include "bridge/protocol/status_board.hpp"

namespace wsbridge {

/// Appends a received message for a terminal: text escaped by safe_text (newlines and
/// tabs kept), binary as "(binary, N bytes) 0a1b..." shortened after 32 bytes.
void append_for_terminal(std::string& out, ipc::frame_type type, std::string_view payload);

/// "connection closed by server: 1001 (going away) "reason"" (reason escaped);
/// "connection closed by server (no status code)" for 1005.
std::string close_text(const ipc::close_info& c, const char* peer = "server");

/// "1 input line", "2 input lines", "2 messages from the program": `what` is the
/// singular noun, `after` follows it unchanged.
std::string count_text(std::uint64_t n, std::string_view what, std::string_view after = {});

/// -v at the end: "sent 3 messages (12 bytes), received 1 message (4 bytes)".
std::string traffic_text(const status_board& board);

/// When input was read but not sent, the line that says how much ("3 input lines
/// were not sent..."), naming them `what` ("input line", "typed line") followed by
/// `after` (" from the program"); with `must_end`, also when the input had not ended
/// (what it still held never reached the server). Empty when all was delivered.
/// Reads the final counters from the board (netproc publishes before `closed`).
std::string undelivered_text(const status_board& board, std::string_view what, std::string_view after = {},
                             bool must_end = false);

/// "00000000  48 65 6c 6c 6f ...  |Hello|": 16 bytes a line, with their ASCII (/last).
std::string hex_dump(std::string_view bytes);

/// "13:45:01.123 ", the local time (--timestamps); or "2026-12-02T13:45:01.123Z", UTC
/// (the --log transcript, unambiguous when read elsewhere).
std::string time_text(bool utc);

/// "permessage-deflate" from "permessage-deflate; client_max_window_bits=15": the
/// extensions' names only, so that the "Connected" line fits (-v shows the parameters).
std::string extension_names(std::string_view header);

}  // namespace wsbridge
