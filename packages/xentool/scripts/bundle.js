#!/usr/bin/env node
// Bundles the CLI into one file (bundle/xentool.js) with esbuild: start-up then costs one file
// read and compile instead of resolving and loading ~150 modules. koffi stays external: it
// carries a native binary and is loaded only when a real host is opened.
'use strict';
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
esbuild
  .build({
    entryPoints: [path.join(root, 'src', 'main.ts')],
    outfile: path.join(root, 'bundle', 'xentool.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['koffi'],
    sourcemap: true,
    logLevel: 'warning',
  })
  .catch(() => process.exit(1));
