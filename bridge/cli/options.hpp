#pragma once
// The option table: every option of wsbridge, in curl's kind of groups, as data that
// the parser, --help, the man page and the completions all read (help.hpp).
// Boost.Program_options fills `option_values` (the text of options that need checking
// before they become settings) and `config` directly where no check is needed.

#include <boost/program_options/options_description.hpp>
#include <string>
#include <vector>

#include "bridge/cli/config.hpp"

namespace wsbridge {

/// Option values as typed, before the rules (option_rules.hpp) turn them into config.
struct option_values {
  std::string connect_timeout, close_timeout, linger, ping_interval = "0", ping_timeout, timeout = "0";
  std::string max_size;
  std::vector<std::string> header_lines;
  std::string unix_path;
  std::string user_agent, listen_text, origin_allow, trusted_proxy, wait;
  std::vector<std::string> connect_to, resolve;
  std::string reconnect_delay;
  long close_code = 1000;
  std::string completion_shell;
};

/// The groups, in the order --help shows them, and the options it does not list.
struct option_table {
  boost::program_options::options_description general, connection, tls, handshake, framing, ending, program,
      terminal, server;
  boost::program_options::options_description hidden;  ///< other tools' spellings; what the build asks for
  /// Every listed option (for "did you mean").
  boost::program_options::options_description visible() const;
  /// --help's groups with their titles.
  std::vector<std::pair<const char*, const boost::program_options::options_description*>> titled() const;
};

/// Builds the table over `values` and `cfg`, which must outlive the parsing.
void make_option_table(option_table& table, option_values& values, config& cfg);

}  // namespace wsbridge
