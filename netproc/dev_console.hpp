#pragma once
// --dev-console: the page at / for trying a server from a browser (websocketd's
// --devconsole, and more: binary messages as hex, a close code and reason of one's
// choosing, a log that can be copied). Self-contained: no external script, style or font.

#include <string_view>

namespace wsbridge::netproc {

std::string_view dev_console_page();

}  // namespace wsbridge::netproc
