#pragma once
// The checks across options, each a small named rule, run in order once the table
// (options.hpp) has been parsed: the plan (config) is built and checked here, then run
// (websocat separates planning from its lints the same way). A rule returns false and
// fills *text with one line naming the options involved.

#include <boost/program_options/variables_map.hpp>
#include <string>

#include "bridge/cli/config.hpp"
#include "bridge/cli/options.hpp"

namespace wsbridge {

/// What every rule sees: the parsed options, their raw values, the config being built.
struct rule_input {
  const boost::program_options::variables_map& vm;
  option_values& values;
  config& cfg;
};

struct option_rule {
  const char* name;  ///< what it checks, for a reader of the list
  bool (*check)(rule_input& in, std::string* text);
};

/// Runs `rules` in order; false at the first that fails.
template <std::size_t N>
bool apply_rules(const option_rule (&rules)[N], rule_input& in, std::string* text) {
  for (const option_rule& r : rules)
    if (!r.check(in, text)) return false;
  return true;
}

/// The rules for every mode, then those of the mode (client or --listen).
bool apply_common_rules(rule_input& in, std::string* text);

/// Options given that do nothing in the mode chosen: one line each for cfg.warnings
/// ("--timestamps shows times in the interactive client; ignored in pipe mode").
void collect_warnings(rule_input& in);
bool apply_client_rules(rule_input& in, std::string* text);
bool apply_server_rules(rule_input& in, std::string* text);

}  // namespace wsbridge
