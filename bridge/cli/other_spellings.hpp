#pragma once
// What users of websocketd, websocat, wscat and curl type out of habit: each spelling
// wsbridge does not take as it is, with the one line that names wsbridge's own.
// Checked before the parser, so that "did you mean" never guesses an option that
// does something else (curl's --max-time is not --max-size).

#include <string>

namespace wsbridge {

/// A one-line usage error for the first such spelling in argv[1..argc), or "".
std::string other_tool_spelling(int argc, const char* const* argv);

}  // namespace wsbridge
