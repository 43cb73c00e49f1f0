#!/usr/bin/env node
'use strict';
// The bundled build when present (npm run build makes it; loaded with a code cache by the
// loader in xentool.js), else the compiled tree.
const entry = require('./xentool.js').loadBundle() || require('../dist/main.js');
entry.main('xm');
