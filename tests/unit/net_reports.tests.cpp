// net_reports: what netproc tells the supervisor on its channel, checked with the
// supervisor's own dispatch table.
#include <catch2/catch.hpp>
#include <string>

#include "bridge/protocol/ipc.hpp"
#include "bridge/supervisor/net_reports.hpp"

using namespace wsbridge;

namespace {

std::string frame(ipc::frame_type type, std::string_view payload) {
  std::string out;
  ipc::append_frame(out, type, payload);
  return out;
}

}  // namespace

TEST_CASE("net reports: a redirect, or an end and its unsent frames", "[net_reports]") {
  std::string err;
  SECTION("a redirect, in pieces") {
    net_reports r;
    const std::string bytes = frame(ipc::frame_type::redirect, ipc::encode_redirect({302, "/next"}));
    REQUIRE(r.take(bytes.substr(0, 3), &err));
    REQUIRE(r.take(bytes.substr(3), &err));
    REQUIRE(r.redirect);
    CHECK(r.redirect->status == 302);
    CHECK(r.redirect->location == "/next");
    CHECK_FALSE(r.incomplete());
  }
  SECTION("an end, then the unsent frames in two pieces") {
    net_reports r;
    ipc::end_report e;
    e.close = {1006, true, ""};
    e.http_status = 429;
    e.retry_after = 7;
    e.unsent_messages = 2;
    REQUIRE(r.take(frame(ipc::frame_type::ended, ipc::encode_end(e)) + frame(ipc::frame_type::unsent, "ab") +
                       frame(ipc::frame_type::unsent, "cd"),
                   &err));
    REQUIRE(r.end);
    CHECK(r.end->http_status == 429);
    CHECK(r.end->retry_after == 7);
    CHECK(r.end->unsent_messages == 2);
    CHECK(r.end->close.code == 1006);
    CHECK(r.unsent == "abcd");
  }
  SECTION("a file request, answered before the next may come") {
    net_reports r;
    REQUIRE(r.take(frame(ipc::frame_type::file_request, "docs/index.html"), &err));
    REQUIRE(r.file_request);
    CHECK(*r.file_request == "docs/index.html");
    r.file_request.reset();  // answered
    REQUIRE(r.take(frame(ipc::frame_type::file_request, "app.js"), &err));
  }
}

TEST_CASE("net reports: anything out of place is refused", "[net_reports]") {
  std::string err;
  // Each: what a corrupted or compromised netproc might send.
  for (const std::string& bytes :
       {frame(ipc::frame_type::unsent, "x"),                                       // unsent before ended
        frame(ipc::frame_type::redirect, ipc::encode_redirect({302, "/a"})) +
            frame(ipc::frame_type::redirect, ipc::encode_redirect({302, "/b"})),  // a second redirect
        frame(ipc::frame_type::ended, ipc::encode_end({})) +
            frame(ipc::frame_type::redirect, ipc::encode_redirect({302, "/a"})),  // a redirect after the end
        frame(ipc::frame_type::notice, "hello"),                                  // a frame for ioproc
        frame(ipc::frame_type::file_request, "a") +
            frame(ipc::frame_type::file_request, "b"),                            // two files at once
        frame(ipc::frame_type::ended, ipc::encode_end({})) +
            frame(ipc::frame_type::file_request, "a"),                            // a file after the end
        frame(ipc::frame_type::redirect, "ab"),                                   // a malformed payload
        frame(ipc::frame_type::redirect, std::string(4 + 4097 + 1, 'x'))}) {      // a Location over the limit
    net_reports r;
    CHECK_FALSE(r.take(bytes, &err));
    CHECK_FALSE(err.empty());
  }
}

TEST_CASE("net reports: notices only where the listener takes them", "[net_reports]") {
  std::string err;
  net_reports supervisor;  // a connection's supervisor: notices go to ioproc, never here
  CHECK_FALSE(supervisor.take(frame(ipc::frame_type::notice, "wsbridge: x"), &err));
  net_reports listener;
  listener.notices_allowed = true;
  REQUIRE(listener.take(frame(ipc::frame_type::notice, "wsbridge: 1.2.3.4:5: one") +
                            frame(ipc::frame_type::program_start, "\n\n") +
                            frame(ipc::frame_type::notice, "1.2.3.4:5: a\n1.2.3.4:5: b"),
                        &err));
  CHECK(listener.notices == "wsbridge: 1.2.3.4:5: one\n1.2.3.4:5: a\n1.2.3.4:5: b\n");
  CHECK(listener.program_start);
}
