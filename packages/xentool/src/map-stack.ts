/**
 * Stack traces for --verbose, with positions in the bundled build mapped back to the sources.
 *
 * The bundle (scripts/bundle.js) is minified and runs through vm.Script (bin/load-bundle.js),
 * where Node's --enable-source-maps does not apply: its frames would read `bundle/xentool.js:2:81345`
 * in a function named `Xo`. Each frame whose file has a source map beside it (`FILE.map`, as
 * esbuild and tsc write them) gets the original file, line and column instead; other frames,
 * and every frame when no map is there, are printed as V8 wrote them. Only the error path with
 * --verbose reaches this module, so reading the map costs nothing at start-up.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SourceMap } from 'node:module';

/** A frame's location, `FILE:LINE:COL`, at the end of an `at ...` line, in parentheses or not. */
const FRAME = /^(\s+at (?:.*\()?)(.+?):(\d+):(\d+)(\)?)$/;

export function mapStack(stack: string): string {
  const maps = new Map<string, SourceMap | undefined>();
  return stack
    .split('\n')
    .map((line) => {
      const m = FRAME.exec(line);
      if (!m) return line;
      const [, before, file, lineNo, col, after] = m as unknown as [string, string, string, string, string, string];
      if (!maps.has(file)) maps.set(file, loadMap(file));
      const map = maps.get(file);
      if (!map) return line;
      const entry = map.findEntry(Number(lineNo) - 1, Number(col) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
      if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return line;
      const source = entry.originalSource.startsWith('file://') ? new URL(entry.originalSource).pathname : path.resolve(path.dirname(file), entry.originalSource);
      return `${before}${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}${after}`;
    })
    .join('\n');
}

function loadMap(file: string): SourceMap | undefined {
  const mapFile = `${file}.map`;
  if (!path.isAbsolute(file) || !existsSync(mapFile)) return undefined;
  try {
    // node:module only here: loading it costs start-up time (it pulls in the ES module loader).
    const { SourceMap: SourceMapClass } = require('node:module') as typeof import('node:module');
    return new SourceMapClass(JSON.parse(readFileSync(mapFile, 'utf8')));
  } catch {
    // A damaged or foreign map: the frames stay as V8 wrote them.
    return undefined;
  }
}
