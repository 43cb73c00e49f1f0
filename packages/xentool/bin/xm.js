#!/usr/bin/env node
'use strict';
// The bundled build when present (npm run build makes it; loaded with a code cache, see
// load-bundle.js), else the compiled tree.
const entry = require('./load-bundle.js').loadBundle() || require('../dist/main.js');
entry.main('xm');
