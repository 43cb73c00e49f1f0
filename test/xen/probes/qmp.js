'use strict';
// Sends QMP commands to a device model's control socket in dom0 and prints each reply as one JSON
// line (the greeting and qmp_capabilities exchange first). libxl connects to the same socket only
// while it works, so this must not run during an xl operation on that domain.
// Usage: node qmp.js SOCKET 'CMD_JSON'...   e.g. node qmp.js /var/run/xen/qmp-libxl-1 '{"execute":"query-pci"}'
const net = require('net');

const [socketPath, ...commands] = process.argv.slice(2);
const queue = [JSON.stringify({ execute: 'qmp_capabilities' }), ...commands];
const sock = net.connect(socketPath);
let buf = '';
sock.on('data', (d) => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl).trim();
    buf = buf.slice(nl + 1);
    if (!line) continue;
    const msg = JSON.parse(line);
    if (msg.event) continue;
    process.stdout.write(JSON.stringify(msg) + '\n');
    const next = queue.shift();
    if (next === undefined) sock.end();
    else sock.write(next + '\n');
  }
});
sock.on('error', (e) => {
  process.stderr.write(`qmp: ${e.message}\n`);
  process.exit(1);
});
