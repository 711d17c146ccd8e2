#pragma once
// --help, the man page and the shell completions, all written from the one set of
// option descriptions the command line is parsed with (config.cpp), so that none of
// them can drift from what wsbridge accepts. The build writes wsbridge.1 and the
// completion scripts by running the program (CMakeLists.txt).

#include <boost/program_options/options_description.hpp>
#include <string>
#include <vector>

namespace wsbridge {

struct help_page {
  std::vector<std::string> usage;  ///< "wsbridge [options] URL ...", one form each
  std::string summary;             ///< a paragraph: what wsbridge does
  struct group {
    std::string title;  ///< "Connection"
    const boost::program_options::options_description* options;
  };
  std::vector<group> groups;
  struct section {
    std::string title;  ///< "Exit status"
    std::string text;   ///< paragraphs, separated by blank lines
  };
  std::vector<section> sections;  ///< after the options
  /// The man page's alone (examples, environment, files...): a line that starts with
  /// two spaces is shown as it is (a command), the others are filled.
  std::vector<section> manual_sections;
};

/// wsbridge's page without its option groups: the usage lines, the summary, and the
/// sections after the options (exit status, --exec, --listen).
help_page wsbridge_help_page();

/// The --help text: curl-style groups, "-H, --header NAME:VALUE" and the description
/// wrapped beside it, in 80 columns.
std::string format_help(const help_page& page);

/// The -h text: the usage forms and the options most used, on one screen, with where
/// the rest is. `table` is every listed option, from which the few are taken.
std::string format_short_help(const help_page& page, const boost::program_options::options_description& table);

/// The man page (man(7) roff) of the same text.
std::string format_man_page(const help_page& page, const std::string& version);

/// A completion script for `shell` ("bash" or "zsh"); "" for another shell. Options
/// whose value is a FILE or PATH complete file names; --exec completes a command.
std::string format_completion(const help_page& page, const std::string& shell);

}  // namespace wsbridge
