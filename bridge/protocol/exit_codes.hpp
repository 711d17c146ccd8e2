#pragma once
// The exit statuses of wsbridge. docs/guide.md "Exit codes" documents the same table (tests/integration/test_cli.py checks it).

namespace wsbridge {

enum exit_code : int {
  exit_ok = 0,                ///< closed normally; everything read was sent
  exit_failure = 1,           ///< an I/O error on stdin/stdout or an internal error
  exit_usage = 2,             ///< bad command line or malformed URL
  exit_connect_failed = 3,    ///< name resolution, TCP connect or timeout failed
  exit_handshake_rejected = 4,///< the server answered the upgrade with something other than 101
  exit_closed_abnormally = 5, ///< connection lost, close code other than 1000/1001, protocol error
  exit_undelivered = 6,       ///< the server closed before all input was sent
  exit_process_died = 7,      ///< a wsbridge child process crashed or was killed
  exit_peer_dead = 8,         ///< keepalive: the server stopped answering (--ping-interval)
  exit_input_refused = 9,     ///< input that cannot become a message: not UTF-8 text, bad base64,
                              ///< a malformed length prefix, a message over the size limit
  exit_incomplete = 10,       ///< --max-messages: fewer messages arrived (the server closed first,
                              ///< or --timeout ran out)
  exit_output_closed = 141,   ///< stdout's reader went away (128 + SIGPIPE, as the shell expects)
  // 128 + N: interrupted by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP)
};

}  // namespace wsbridge
