// WebSocket test server on node's `ws`. Prints "PORT <n>" once listening on
// 127.0.0.1 with an ephemeral port. Modes: echo | flood N (N messages, then Close 1000).
// With WS_DEFLATE=1 in the environment it accepts permessage-deflate; with WS_TLS_CERT
// and WS_TLS_KEY (PEM files) it serves wss://.
'use strict';
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');

const [mode = 'echo', arg = '0'] = process.argv.slice(2);
const options = { perMessageDeflate: process.env.WS_DEFLATE === '1', maxPayload: 64 * 1024 * 1024 };
let wss;
if (process.env.WS_TLS_CERT) {
  const server = https.createServer({ cert: fs.readFileSync(process.env.WS_TLS_CERT),
                                      key: fs.readFileSync(process.env.WS_TLS_KEY) });
  wss = new WebSocketServer({ server, ...options });
  server.listen(0, '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
} else {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  wss.on('listening', () => console.log(`PORT ${wss.address().port}`));
}
wss.on('connection', (ws) => {
  if (mode === 'echo') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  } else if (mode === 'flood') {
    const n = Number(arg);
    for (let i = 0; i < n; i++) ws.send(`msg ${i}`);
    ws.close(1000, 'flood done');
  }
});
