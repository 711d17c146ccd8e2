// The floor of scripts/bench --server: a WebSocket echo server in node's own process,
// no program started, no other process involved. What the load generator reaches
// against it is the most any server could show with this generator on this machine.
// Prints its port as one JSON line, then serves until stdin ends.
'use strict';
const path = require('path');
const WebSocket = require(path.join(__dirname, '..', 'peers', 'node_modules', 'ws'));

const server = new WebSocket.Server({host: '127.0.0.1', port: 0, perMessageDeflate: false});
server.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, {binary})));
server.on('listening', () => console.log(JSON.stringify({port: server.address().port})));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
