/**
 * Parser fuzzing: random bytes, random strings and mutations of the corpus never make a parser
 * throw anything but its own coded error, and every message is one line. (The differential
 * test checks the answers; this one checks the failure contract on far more inputs.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseConfigBytes, parseConfig } from '../../packages/xentool/src/config/parse-config';
import { ConfigError } from '../../packages/xentool/src/config/config-error';
import { domainConfigFromFile } from '../../packages/xentool/src/config/domain-config';
import { XentoolError } from '../../packages/xentool/src/errors';
import { parseBdf, parsePciSpec } from '../../packages/xentool/src/pci-spec/parse-pci-spec';
import { parseXmPciSpec } from '../../packages/xentool/src/pci-spec/parse-xm-pci-spec';
import { parseHideLine } from '../../packages/xentool/src/pci-spec/parse-hide-line';
import { fragmentConfig, fragmentSpec, mutated, structuredConfig, structuredSpec } from './generators';

const seeds = readdirSync(join(__dirname, 'corpus', 'configs')).map((f) =>
  readFileSync(join(__dirname, 'corpus', 'configs', f), 'utf8'),
);

/** Runs fn; returns 'ok' or the error, failing the property on a foreign exception type. */
function only<E extends Error>(cls: new (...a: never[]) => E, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof cls)) throw new Error(`foreign exception ${String(e)}`);
    if (e.message.includes('\n')) throw new Error(`multi-line message ${JSON.stringify(e.message)}`);
  }
}

const configInputs = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.string({ unit: 'binary', maxLength: 120 }).map((s) => Buffer.from(s, 'utf8')),
  fragmentConfig.map((s) => Buffer.from(s, 'utf8')),
  structuredConfig.map((s) => Buffer.from(s, 'utf8')),
  fc.constantFrom(...seeds).chain(mutated).map((s) => Buffer.from(s, 'utf8')),
);

describe('parser fuzzing', () => {
  it('parseConfigBytes throws only ConfigError, located as FILE:LINE:COL', () => {
    fc.assert(
      fc.property(configInputs, (bytes) => {
        try {
          parseConfigBytes(bytes, 'fuzz.cfg');
        } catch (e) {
          if (!(e instanceof ConfigError)) throw new Error(`foreign exception ${String(e)}`);
          expect(e.message).toMatch(/^fuzz\.cfg:\d+:\d+: [^\n]+$/);
          expect(e.exitCode).toBe(1);
        }
      }),
      { numRuns: 4000, seed: 11 },
    );
  });

  it('domainConfigFromFile throws only XentoolError on anything that parses', () => {
    const withKeys = fc
      .tuple(
        fc.array(
          fc.tuple(
            fc.constantFrom('name', 'type', 'builder', 'memory', 'maxmem', 'vcpus', 'maxvcpus', 'uuid', 'pci', 'rdm', 'passthrough',
              'pci_permissive', 'on_crash', 'device_model_version', 'disk', 'cmdline', 'root', 'extra', 'e820_host'),
            fc.constantFrom('=', '+='),
            fc.oneof(fc.constantFrom('"vm"', '512', '010', '0x10', '"hvm"', '"p"', '""', '[]', '[ "03:00.0" ]', '[ "x" ]', '[ [ "a" ] ]',
              '"strategy=host"', '"restart"', '"bogus"', '99999999999999999999', '"6ba7b810-9dad-11d1-80b4-00c04fd430c8"'), structuredSpec.map((s) => `[ "${s}" ]`)),
          ),
          { maxLength: 8 },
        ),
      )
      .map(([kvs]) => kvs.map(([k, op, v]) => `${k} ${op} ${v}\n`).join(''));
    fc.assert(
      fc.property(withKeys, (text) => {
        let cfg;
        try {
          cfg = parseConfig(text, 'm.cfg');
        } catch {
          return;
        }
        only(XentoolError, () => domainConfigFromFile(cfg));
      }),
      { numRuns: 3000, seed: 12 },
    );
  });

  it('the PCI spec parsers throw only XentoolError with exit code 2', () => {
    const specs = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fragmentSpec, structuredSpec, fc.string({ unit: fc.constantFrom(...'0123456789abcdef:.,@*=-() \t'.split('')), maxLength: 30 }));
    fc.assert(
      fc.property(specs, (s) => {
        for (const parse of [parsePciSpec, parseBdf, parseXmPciSpec, parseHideLine] as ((x: string) => unknown)[]) {
          try {
            parse(s);
          } catch (e) {
            if (!(e instanceof XentoolError)) throw new Error(`${parse.name}: foreign exception ${String(e)}`);
            expect(e.exitCode).toBe(2);
            expect(e.message).not.toContain('\n');
          }
        }
      }),
      { numRuns: 6000, seed: 13 },
    );
  });
});
