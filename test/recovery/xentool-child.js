#!/usr/bin/env node
'use strict';
// The CLI as compiled by `npx tsc -b packages/xentool`, bypassing bin/xentool.js's preference for
// a bundle: a bundle left from an earlier `npm run build` would run stale code in these tests.
require('../../packages/xentool/dist/main.js').main('xentool');
