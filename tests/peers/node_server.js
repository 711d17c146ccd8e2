// WebSocket test server on node's `ws`. Prints "PORT <n>" once listening on
// 127.0.0.1 with an ephemeral port. Modes: echo | flood N (N messages, then Close 1000).
// With WS_DEFLATE=1 in the environment it accepts permessage-deflate.
'use strict';
const { WebSocketServer } = require('ws');

const [mode = 'echo', arg = '0'] = process.argv.slice(2);
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: process.env.WS_DEFLATE === '1',
                                  maxPayload: 64 * 1024 * 1024 });
wss.on('connection', (ws) => {
  if (mode === 'echo') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  } else if (mode === 'flood') {
    const n = Number(arg);
    for (let i = 0; i < n; i++) ws.send(`msg ${i}`);
    ws.close(1000, 'flood done');
  }
});
wss.on('listening', () => console.log(`PORT ${wss.address().port}`));
