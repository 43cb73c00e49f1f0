#!/usr/bin/env node
'use strict';
// The bundled build when present (npm run build makes it; loaded with a code cache, see
// load-bundle.js), else the compiled tree.
const entry = require('./load-bundle.js').loadBundle() || require('../dist/main.js');
// An operator may link this file as `xl` on purpose (the package never installs one): messages
// then name xl.
entry.main(require('node:path').basename(process.argv[1] || '') === 'xl' ? 'xl' : 'xentool');
