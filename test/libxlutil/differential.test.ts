/**
 * xentool's config and PCI-spec parsers against the real libxlutil 4.17 (Debian libxen-dev):
 * probe.c is compiled here with gcc, fed the same inputs, and every answer is compared
 * (accept/reject, every stored value, the line of each setting and of the first error).
 * A difference fails the test unless docs/compat.md lists it (see compare.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseConfig } from '../../packages/xentool/src/config/parse-config';
import { formatConfigText } from '../../packages/xentool/src/config/format-config';
import { domainConfigFromFile } from '../../packages/xentool/src/config/domain-config';
import { Oracle, oracleUnavailable } from './oracle';
import { compareConfig, compareSpec, compareXlPci } from './compare';
import { fragmentConfig, fragmentSpec, mutated, pciConfig, structuredConfig, structuredSpec } from './generators';

const corpusDir = join(__dirname, 'corpus');
const cfgFiles = readdirSync(join(corpusDir, 'configs'))
  .filter((f) => f.endsWith('.cfg'))
  .sort()
  .map((f) => ({ name: f, bytes: readFileSync(join(corpusDir, 'configs', f)) }));
const snippets = (JSON.parse(readFileSync(join(corpusDir, 'config-snippets.json'), 'utf8')) as { name: string; text: string }[]).map(
  (s) => ({ name: s.name, bytes: Buffer.from(s.text, 'utf8') }),
);
const specCorpus = JSON.parse(readFileSync(join(corpusDir, 'specs.json'), 'utf8')) as string[];

// Generated inputs: fixed seeds, so a failure names an input that reproduces.
const genConfigs = [
  ...fc.sample(structuredConfig, { numRuns: 400, seed: 1 }),
  ...fc.sample(fragmentConfig, { numRuns: 1500, seed: 2 }),
  ...cfgFiles.slice(0, 20).flatMap((f, i) => fc.sample(mutated(f.bytes.toString('utf8')), { numRuns: 15, seed: 100 + i })),
].map((t) => ({ name: JSON.stringify(t), bytes: Buffer.from(t, 'utf8') }));
const genSpecs = [...fc.sample(structuredSpec, { numRuns: 1500, seed: 3 }), ...fc.sample(fragmentSpec, { numRuns: 3000, seed: 4 })];

const unavailable = oracleUnavailable();
if (unavailable) {
  // Said once, loudly, rather than passing silently.
  console.warn(unavailable);
}
const maybe = unavailable ? describe.skip : describe;

/** NUL inside quotes aborts libxlutil (compat.md); those inputs are tested separately. */
const nulInQuotes = (b: Buffer) => /(['"])[^\n]*\0[^\n]*\1/.test(b.toString('latin1'));

maybe('differential: libxlutil 4.17 as the oracle', () => {
  let oracle: Oracle;
  beforeAll(() => {
    oracle = new Oracle();
  });
  afterAll(() => oracle?.close());

  function diffConfigs(inputs: { name: string; bytes: Buffer }[]): string[] {
    const usable = inputs.filter((i) => !nulInQuotes(i.bytes));
    const outs = oracle.cfg(usable.map((i) => i.bytes));
    return usable.flatMap((inp, k) => {
      const d = compareConfig(inp.bytes, outs[k]);
      return d ? [`${inp.name}: ${d}`] : [];
    });
  }

  it('the corpus holds at least 200 inputs, valid and invalid', () => {
    const all = [...cfgFiles, ...snippets].map((c) => c.bytes);
    const outs = oracle.cfg(all);
    const specOuts = oracle.spec(specCorpus);
    const n = all.length + specCorpus.length;
    expect(n).toBeGreaterThanOrEqual(200);
    // Both sides of the grammar are covered, for configs and for specs.
    expect(outs.filter((o) => o.rc === 0).length).toBeGreaterThan(20);
    expect(outs.filter((o) => o.rc !== 0).length).toBeGreaterThan(20);
    expect(specOuts.filter((o) => o.rc === 0).length).toBeGreaterThan(30);
    expect(specOuts.filter((o) => o.rc !== 0).length).toBeGreaterThan(30);
  });

  it('config corpus files parse exactly as libxlutil parses them', () => {
    expect(diffConfigs(cfgFiles)).toEqual([]);
  });

  it('config snippets parse exactly as libxlutil parses them', () => {
    expect(diffConfigs(snippets)).toEqual([]);
  });

  it('generated and mutated configs parse exactly as libxlutil parses them', () => {
    expect(genConfigs.length).toBeGreaterThan(2000);
    expect(diffConfigs(genConfigs)).toEqual([]);
  });

  it('the text dump of every accepted config reads back to the same values in libxlutil', () => {
    const accepted = [...cfgFiles, ...snippets, ...genConfigs].flatMap((c) => {
      try {
        return [parseConfig(c.bytes.toString('utf8'), 'SRC')];
      } catch {
        return [];
      }
    });
    expect(accepted.length).toBeGreaterThan(300);
    const dumps = accepted.map((c) => Buffer.from(formatConfigText(c), 'utf8'));
    const outs = oracle.cfg(dumps);
    const bad = accepted.flatMap((c, i) => {
      const o = outs[i];
      const theirs: Record<string, unknown> = {};
      for (const s of o.settings) theirs[s.name] = s.value;
      const mine = JSON.parse(Buffer.from(JSON.stringify(c.toPlain()), 'utf8').toString('latin1'));
      return o.rc === 0 && JSON.stringify(theirs) === JSON.stringify(mine) ? [] : [dumps[i].toString()];
    });
    expect(bad).toEqual([]);
  });

  it('PCI_SPEC_STRING corpus: same accept/reject and fields as xlu_pci_parse_spec_string', () => {
    const outs = oracle.spec(specCorpus);
    const bad = specCorpus.flatMap((s, i) => {
      const d = compareSpec(s, outs[i], 'spec');
      return d ? [`${JSON.stringify(s)}: ${d}`] : [];
    });
    expect(bad).toEqual([]);
  });

  it('generated PCI specs: same accept/reject and fields as xlu_pci_parse_spec_string', () => {
    const outs = oracle.spec(genSpecs);
    const bad = genSpecs.flatMap((s, i) => {
      const d = compareSpec(s, outs[i], 'spec');
      return d ? [`${JSON.stringify(s)}: ${d}`] : [];
    });
    expect(bad).toEqual([]);
  });

  it('BDFs: same accept/reject and fields as xlu_pci_parse_bdf', () => {
    const inputs = [...specCorpus, ...genSpecs.slice(0, 1500)];
    const outs = oracle.bdf(inputs);
    const bad = inputs.flatMap((s, i) => {
      const d = compareSpec(s, outs[i], 'bdf');
      return d ? [`${JSON.stringify(s)}: ${d}`] : [];
    });
    expect(bad).toEqual([]);
  });

  it("the typed model's pci devices equal xl_parse.c's, global pci_* and rdm= defaults included", () => {
    const inputs = [
      ...fc.sample(pciConfig, { numRuns: 1500, seed: 5 }),
      'name = "vm"\npci_permissive = 1\nrdm = "strategy=host,policy=relaxed"\npci = [ "03:00.0", "04:00.0,permissive=0,rdm_policy=strict" ]\n',
    ];
    const outs = oracle.xlpci(inputs);
    expect(outs.filter((o) => o.pci.length > 0 && o.pci.every((p) => p.rc === 0)).length).toBeGreaterThan(300);
    const bad = inputs.flatMap((t, i) => {
      const d = compareXlPci(t, outs[i]);
      return d ? [`${JSON.stringify(t)}: ${d}`] : [];
    });
    expect(bad).toEqual([]);
  });

  it('e820_host for a PV guest equals xl_parse.c + libxl: the key as a number, forced on by pci= devices', () => {
    const pci = ['', 'pci = []\n', 'pci = [ "03:00.0" ]\n'];
    const values = [null, '0', '1', '0x0', '0x10', '"-1"', '010', '4294967296', '"1"', "'0'"];
    const inputs = pci.flatMap((p) => values.map((v) => `name = "vm"\n${v === null ? '' : `e820_host = ${v}\n`}${p}`));
    const outs = oracle.xlpci(inputs);
    const ours = inputs.map((t) => domainConfigFromFile(parseConfig(t, 'SRC')).e820_host);
    expect(ours).toEqual(outs.map((o) => o.e820_host));
    // Both ways happen: off without devices, on with them whatever the key says.
    expect(new Set(ours)).toEqual(new Set([true, false]));
    expect(ours.slice(2 * values.length).every(Boolean)).toBe(true);
  });

  it('divergence: a malformed e820_host is a warning and the default in xl, a located error here', () => {
    const text = 'name = "vm"\ne820_host = "yes"\n';
    const [xl] = oracle.xlpci([text]);
    expect(xl.e820_host).toBe(false);
    expect(xl.report).toMatch(/e820_host/);
    expect(() => domainConfigFromFile(parseConfig(text, 'f.cfg'))).toThrow(/^f\.cfg:2:\d+: e820_host: /);
  });

  it('known libxlutil facts hold (the man-page example is rejected, permissive=yes is 0)', () => {
    const [manPage, yes, star] = oracle.spec(['36:00.0,vslot=20,seize=1', '03:00.0,permissive=yes', '03:00.*']);
    expect(manPage.rc).not.toBe(0);
    expect(yes.rc).toBe(0);
    expect(yes.pci.permissive).toBe(false);
    expect(star.pci.vfunc_mask).toBe(0xffffffff);
  });

  it('divergence: a NUL byte inside quotes aborts libxlutil; we reject it with a located error', () => {
    const input = Buffer.from("name = 'a\0b'\n", 'latin1');
    const r = spawnSync(oracle.bin, ['cfg'], { input: Buffer.concat([Buffer.from(`${input.length}\n`), input]) });
    expect(r.signal).toBe('SIGABRT');
    expect(() => parseConfig("name = 'a\0b'\n", 'f.cfg')).toThrow(/^f\.cfg:1:10: NUL byte/);
  });
});
