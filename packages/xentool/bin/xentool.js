#!/usr/bin/env node
'use strict';
// The bundled build when present (npm run build makes it), else the compiled tree.
let entry;
try {
  entry = require('../bundle/xentool.js');
} catch (e) {
  if (e.code !== 'MODULE_NOT_FOUND') throw e;
  entry = require('../dist/main.js');
}
// An operator may link this file as `xl` on purpose (the package never installs one): messages
// then name xl.
entry.main(require('node:path').basename(process.argv[1] || '') === 'xl' ? 'xl' : 'xentool');
