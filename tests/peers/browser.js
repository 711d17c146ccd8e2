// Drives Debian's Chromium, headless, through the DevTools protocol over a pipe
// (--remote-debugging-pipe: JSON messages separated by NUL on descriptors 3 and 4), for
// tests that need a real browser. One command per line on stdin, one JSON answer per
// line on stdout:
//   {"open": URL}                  opens a tab at URL, waits for its load; answers {"tab": ID}
//   {"eval": EXPR, "tab": ID}      evaluates EXPR there (a promise is awaited); {"value": ...}
//   {"reload": ID}                 reloads the tab and waits for the load
// Chromium runs with a profile of its own in a temporary directory, and ends with us.
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const readline = require("readline");

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "wsbridge-chromium-"));
const chrome = spawn(process.env.CHROMIUM || "/usr/bin/chromium",
  ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
   "--disable-extensions", "--disable-background-networking", "--remote-debugging-pipe",
   "--user-data-dir=" + profile, "about:blank"],
  { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] });
const toChrome = chrome.stdio[3], fromChrome = chrome.stdio[4];

let nextId = 1;
const waiting = new Map();  // id -> resolve
const listeners = [];       // (message) => bool (true: handled, remove)
let buffered = Buffer.alloc(0);
fromChrome.on("data", (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  for (let end; (end = buffered.indexOf(0)) >= 0;) {
    const msg = JSON.parse(buffered.subarray(0, end).toString());
    buffered = buffered.subarray(end + 1);
    if (msg.id && waiting.has(msg.id)) {
      waiting.get(msg.id)(msg);
      waiting.delete(msg.id);
    }
    for (let i = listeners.length - 1; i >= 0; i--) if (listeners[i](msg)) listeners.splice(i, 1);
  }
});

function send(method, params = {}, sessionId) {
  const id = nextId++;
  const message = { id, method, params };
  if (sessionId) message.sessionId = sessionId;
  toChrome.write(JSON.stringify(message) + "\0");
  return new Promise((resolve, reject) => waiting.set(id, (m) => (m.error ? reject(new Error(m.error.message)) : resolve(m.result))));
}

function loaded(sessionId) {
  return new Promise((resolve) => listeners.push((m) => {
    if (m.sessionId === sessionId && m.method === "Page.loadEventFired") {
      resolve();
      return true;
    }
    return false;
  }));
}

const sessions = new Map();  // tab id -> session id

async function handle(cmd) {
  if (cmd.open) {
    const { targetId } = await send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
    await send("Page.enable", {}, sessionId);
    await send("Runtime.enable", {}, sessionId);
    const load = loaded(sessionId);
    await send("Page.navigate", { url: cmd.open }, sessionId);
    await load;
    sessions.set(targetId, sessionId);
    return { tab: targetId };
  }
  if (cmd.reload) {
    const sessionId = sessions.get(cmd.reload);
    const load = loaded(sessionId);
    await send("Page.reload", {}, sessionId);
    await load;
    return { reloaded: true };
  }
  if (cmd.eval) {
    const r = await send("Runtime.evaluate", { expression: cmd.eval, awaitPromise: true, returnByValue: true },
                         sessions.get(cmd.tab));
    if (r.exceptionDetails) return { error: r.exceptionDetails.exception ? r.exceptionDetails.exception.description : r.exceptionDetails.text };
    return { value: r.result.value };
  }
  return { error: "unknown command" };
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    let answer;
    try {
      answer = await handle(JSON.parse(line));
    } catch (e) {
      answer = { error: String(e.message || e) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  });
});
function quit() {
  const done = () => {
    try {
      fs.rmSync(profile, { recursive: true, force: true });
    } catch (e) {
      // a profile left in the temporary directory is harmless
    }
    process.exit(0);
  };
  if (chrome.exitCode !== null || chrome.signalCode !== null) return done();
  chrome.on("exit", done);
  chrome.kill("SIGKILL");
}
lines.on("close", () => queue.then(quit));
process.on("SIGTERM", quit);
process.stdout.write(JSON.stringify({ ready: true }) + "\n");
