// WebSocket test client on node's `ws`: connects to URL, sends each further argument as
// a text message, prints every message received as "MSG <text>", closes with 1000 once
// as many messages arrived as it sent, and prints "CLOSE <code>" when the connection
// ends (whoever closed it).
'use strict';
const WebSocket = require('ws');

const [url, ...messages] = process.argv.slice(2);
const ws = new WebSocket(url, { perMessageDeflate: process.env.WS_DEFLATE === '1' });
let received = 0;
ws.on('open', () => {
  for (const m of messages) ws.send(m);
});
ws.on('message', (data) => {
  console.log(`MSG ${data}`);
  if (++received === messages.length) ws.close(1000);
});
ws.on('close', (code) => console.log(`CLOSE ${code}`));
ws.on('error', (err) => console.log(`ERROR ${err.message}`));
