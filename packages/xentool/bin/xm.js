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
entry.main('xm');
