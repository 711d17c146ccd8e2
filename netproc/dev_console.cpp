#include "netproc/dev_console.hpp"

namespace wsbridge::netproc {

namespace {

// Every text from the server is put in the page with textContent, never as HTML.
constexpr std::string_view page = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsbridge dev console</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #f6f6f8; }
  header { padding: 10px 16px; background: #24292f; color: #fff; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 15px; margin: 0 12px 0 0; font-weight: 600; }
  input, textarea, button { font: inherit; }
  #url { flex: 1; min-width: 240px; padding: 4px 6px; }
  #state { padding: 2px 8px; border-radius: 10px; background: #6e7781; font-size: 12px; }
  #state.open { background: #1a7f37; }
  main { display: grid; grid-template-columns: minmax(260px, 1fr) 2fr; gap: 12px; padding: 12px 16px; }
  section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px; }
  textarea { width: 100%; box-sizing: border-box; min-height: 90px; font-family: ui-monospace, monospace; }
  .row { display: flex; gap: 6px; margin-top: 6px; flex-wrap: wrap; align-items: center; }
  #log { font-family: ui-monospace, monospace; font-size: 12.5px; height: calc(100vh - 150px); overflow: auto; margin: 0; }
  #log div { padding: 2px 4px; border-bottom: 1px solid #eee; white-space: pre-wrap; word-break: break-all; }
  .in { color: #0550ae; } .out { color: #1a7f37; } .event { color: #6e7781; } .error { color: #cf222e; }
  .meta { color: #6e7781; }
</style>
</head>
<body>
<header>
  <h1>wsbridge dev console</h1>
  <input id="url" aria-label="WebSocket URL">
  <input id="protocols" placeholder="subprotocols (comma-separated)" size="22" aria-label="subprotocols">
  <button id="connect">Connect</button>
  <span id="state">closed</span>
</header>
<main>
  <section>
    <label for="message">Message</label>
    <textarea id="message" placeholder="text, or hex bytes for binary (48 65 6c 6c 6f)"></textarea>
    <div class="row">
      <button id="send-text" disabled>Send text</button>
      <button id="send-binary" disabled>Send binary (hex)</button>
    </div>
    <div class="row">
      <label>Close code <input id="code" value="1000" size="5"></label>
      <label>reason <input id="reason" size="14"></label>
      <button id="close" disabled>Close</button>
    </div>
    <div class="row">
      <button id="copy">Copy log</button>
      <button id="clear">Clear log</button>
    </div>
  </section>
  <section><div id="log" aria-live="polite"></div></section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const wsUrl = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + location.pathname;
$("url").value = wsUrl;
let ws = null;

function stamp() {
  const d = new Date();
  return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
}
function log(kind, text) {
  const line = document.createElement("div");
  line.className = kind;
  line.textContent = stamp() + "  " + text;
  $("log").appendChild(line);
  $("log").scrollTop = $("log").scrollHeight;
}
function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}
function parseHex(text) {
  const clean = text.replace(/0x/gi, "").replace(/[\s,:]/g, "");
  if (clean.length % 2 || /[^0-9a-f]/i.test(clean)) throw new Error("not hex: give pairs of hex digits");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}
function setOpen(open) {
  $("state").textContent = open ? "open" : "closed";
  $("state").className = open ? "open" : "";
  for (const id of ["send-text", "send-binary", "close"]) $(id).disabled = !open;
  $("connect").textContent = open ? "Disconnect" : "Connect";
}

$("connect").onclick = () => {
  if (ws && ws.readyState <= WebSocket.OPEN) return ws.close(1000);
  const protocols = $("protocols").value.split(",").map((p) => p.trim()).filter((p) => p);
  try {
    ws = new WebSocket($("url").value, protocols);
  } catch (e) {
    return log("error", "cannot connect: " + e.message);
  }
  ws.binaryType = "arraybuffer";
  log("event", "connecting to " + $("url").value);
  ws.onopen = () => {
    setOpen(true);
    log("event", "open" + (ws.protocol ? ", subprotocol " + ws.protocol : "") + (ws.extensions ? ", extensions " + ws.extensions : ""));
  };
  ws.onmessage = (e) => {
    if (typeof e.data === "string") {
      log("in", "\u2190 text, " + new TextEncoder().encode(e.data).length + " bytes: " + e.data);
    } else {
      const bytes = new Uint8Array(e.data);
      log("in", "\u2190 binary, " + bytes.length + " bytes: " + hex(bytes));
    }
  };
  ws.onerror = () => log("error", "error (the browser gives no detail; see the close that follows)");
  ws.onclose = (e) => {
    setOpen(false);
    log("event", "closed: code " + e.code + (e.reason ? ", reason \"" + e.reason + "\"" : "") + (e.wasClean ? "" : " (not clean)"));
  };
};
$("send-text").onclick = () => {
  const text = $("message").value;
  ws.send(text);
  log("out", "\u2192 text, " + new TextEncoder().encode(text).length + " bytes: " + text);
};
$("send-binary").onclick = () => {
  let bytes;
  try {
    bytes = parseHex($("message").value);
  } catch (e) {
    return log("error", e.message);
  }
  ws.send(bytes);
  log("out", "\u2192 binary, " + bytes.length + " bytes: " + hex(bytes));
};
$("close").onclick = () => {
  const code = Number($("code").value);
  try {
    ws.close(code, $("reason").value);
    log("event", "closing with code " + code);
  } catch (e) {
    log("error", "cannot close with that code: " + e.message + " (1000, or 3000 to 4999)");
  }
};
$("copy").onclick = async () => {
  const text = Array.from($("log").children, (d) => d.textContent).join("\n");
  try {
    await navigator.clipboard.writeText(text);
    log("event", "log copied");
  } catch (e) {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
};
$("clear").onclick = () => { $("log").textContent = ""; };
$("message").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && ws && ws.readyState === WebSocket.OPEN) $("send-text").click();
});
</script>
</body>
</html>
)HTML";

}  // namespace

std::string_view dev_console_page() { return page; }

}  // namespace wsbridge::netproc
