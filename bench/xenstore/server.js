'use strict';
// The benchmark's xenstored: our in-memory server in a process of its own, so that the
// clients measured (C and Node) all pay the same socket round trip to a separate process.
const { XenstoredServer } = require('../../packages/xenstore/dist');

const server = new XenstoredServer();
server.listen(process.argv[2]).then(() => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
