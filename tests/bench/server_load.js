// The load generator of scripts/bench --server: node's `ws`, the same for every server,
// and not the bottleneck (one event loop, no per-connection thread). Every run is
// bounded by its counts and by a deadline, and prints one JSON line.
//
//   node server_load.js connect URL N PARALLEL   N connections, PARALLEL at a time: each
//                                                connects, sends one message, reads its
//                                                echo and closes; latencies in ms
//   node server_load.js echo URL CONNS MSGS INFLIGHT
//                                                CONNS connections, each sending MSGS
//                                                64-byte messages, at most INFLIGHT
//                                                unanswered; messages/s over all
//   node server_load.js hold URL N               opens N connections (64 at a time),
//                                                checks each echoes, prints "open" with
//                                                the time taken, then holds them until
//                                                stdin ends
'use strict';
const path = require('path');
const WebSocket = require(path.join(__dirname, '..', 'peers', 'node_modules', 'ws'));

const [mode, url, ...rest] = process.argv.slice(2);
const numbers = rest.map(Number);
const deadline = setTimeout(() => {
  console.log(JSON.stringify({error: 'deadline: the run did not finish within 600 s'}));
  process.exit(2);
}, 600000);

function once(n) {
  // One connection: connect, one message, its echo, close. Resolves with ms taken.
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const ws = new WebSocket(url, {perMessageDeflate: false});
    ws.on('open', () => ws.send('hello ' + n));
    ws.on('message', () => ws.close());
    ws.on('close', () => resolve(Number(process.hrtime.bigint() - start) / 1e6));
    ws.on('error', reject);
  });
}

async function connect(total, parallel) {
  const times = [];
  let next = 0;
  const start = process.hrtime.bigint();
  async function worker() {
    while (next < total) times.push(await once(next++));
  }
  await Promise.all(Array.from({length: parallel}, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return {connections: total, parallel, per_second: total / seconds, p50_ms: at(0.5), p99_ms: at(0.99)};
}

function echoOne(messages, inflight) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {perMessageDeflate: false});
    const payload = 'x'.repeat(63);  // a line of 64 bytes with its '\n' at the program
    let sent = 0, received = 0;
    const pump = () => {
      while (sent < messages && sent - received < inflight) {
        ws.send(payload);
        ++sent;
      }
    };
    ws.on('open', pump);
    ws.on('message', () => {
      if (++received === messages) ws.close();
      else pump();
    });
    ws.on('close', () => (received === messages ? resolve() : reject(new Error('closed early'))));
    ws.on('error', reject);
  });
}

async function echo(conns, messages, inflight) {
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({length: conns}, () => echoOne(messages, inflight)));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return {connections: conns, messages: conns * messages, per_second: (conns * messages) / seconds};
}

function openOne(n) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {perMessageDeflate: false});
    ws.on('open', () => ws.send('idle ' + n));
    ws.once('message', () => resolve(ws));
    ws.on('error', reject);
  });
}

async function hold(total) {
  const open = [];
  const start = process.hrtime.bigint();
  let next = 0;
  async function worker() {
    while (next < total) open.push(await openOne(next++));
  }
  await Promise.all(Array.from({length: 64}, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  let closed = 0;
  for (const ws of open) ws.on('close', () => ++closed);
  console.log(JSON.stringify({open: open.length, seconds}));
  clearTimeout(deadline);
  // Held until our stdin ends (the bench has measured), then closed.
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const ws of open) ws.terminate();
    process.exit(0);
  });
  return null;
}

(async () => {
  let result;
  if (mode === 'connect') result = await connect(numbers[0], numbers[1]);
  else if (mode === 'echo') result = await echo(numbers[0], numbers[1], numbers[2]);
  else if (mode === 'hold') result = await hold(numbers[0]);
  else throw new Error('usage: server_load.js connect|echo|hold URL ...');
  if (result) {
    console.log(JSON.stringify(result));
    process.exit(0);
  }
})().catch((e) => {
  console.log(JSON.stringify({error: String(e && e.message || e)}));
  process.exit(1);
});
