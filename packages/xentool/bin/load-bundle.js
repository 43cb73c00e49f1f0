'use strict';
// The bundle loader (loadBundle, cacheFileFor, buildIdOf, WRAPPER_HEAD, WRAPPER_TAIL) lives in
// xentool.js, the bin, which starts the CLI only when run as a program: see the reason there.
module.exports = require('./xentool.js');
