// The node `ws` peer for scripts/bench: sends every stdin line as a text message,
// closes at EOF, prints every message received (one per line).
'use strict';
const readline = require('readline');
const WebSocket = require('ws');

const ws = new WebSocket(process.argv[2], { perMessageDeflate: false, maxPayload: 0 });
ws.on('open', () => {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => ws.send(line));
  rl.on('close', () => ws.close(1000));
});
ws.on('message', (data) => process.stdout.write(data.toString() + '\n'));
ws.on('close', () => process.stdin.destroy());  // the server closed: stop reading input
ws.on('error', (e) => { console.error(`peer.js: ${e.message}`); process.exitCode = 1; });
