/** fast-check generators for config texts and PCI specs, shared by the differential and fuzz tests. */
import fc from 'fast-check';

const identChars = 'abcdefghijklmnopqrstuvwxyz0123456789._';
export const ident = fc
  .tuple(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'.split('')), fc.string({ unit: fc.constantFrom(...identChars.split('')), maxLength: 8 }))
  .map(([a, b]) => a + b);

/** A NUMBER token as the lexer defines it: [0-9][0-9a-fx]*. */
export const numberTok = fc
  .tuple(fc.constantFrom(...'0123456789'.split('')), fc.string({ unit: fc.constantFrom(...'0123456789abcdefx'.split('')), maxLength: 6 }))
  .map(([a, b]) => a + b);

const strUnit = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...'abcXYZ019 ,.:=@*#[]-+()éü€\t'.split('')) },
  { weight: 2, arbitrary: fc.constantFrom('\\n', '\\t', "\\'", '\\"', '\\\\', '\\a', '\\v', '\\101', '\\1 2', '\\12') },
  { weight: 1, arbitrary: fc.string({ maxLength: 2 }).map((s) => s.replace(/[\\'"\n\0]/g, '')) },
);

/** A well-formed quoted string (escapes libxlutil handles, including its vanishing octal ones). */
export const stringTok = fc
  .tuple(fc.constantFrom("'", '"'), fc.array(strUnit, { maxLength: 10 }))
  .map(([q, units]) => q + units.map((u) => (u === q ? '\\' + q : u)).join('') + q);

const ws = fc.constantFrom('', ' ', '  ', '\t');
const nl = fc.constantFrom('\n', ' \n', '\t# comment\n', '\n\n');

export const valueText: fc.Arbitrary<string> = fc.letrec((tie) => ({
  value: fc.oneof({ weight: 3, arbitrary: numberTok }, { weight: 3, arbitrary: stringTok }, { weight: 1, arbitrary: tie('list') }),
  list: fc
    .tuple(fc.array(fc.tuple(ws, tie('value') as fc.Arbitrary<string>, fc.constantFrom('', '\n', ' \n  ')), { maxLength: 4 }), fc.boolean(), ws)
    .map(([items, trailing, w]) => '[' + w + items.map(([a, v, n]) => a + v + n).join(',') + (trailing && items.length ? ',' : '') + ']'),
})).value as fc.Arbitrary<string>;

/** Mostly valid config files built from the grammar. */
export const structuredConfig = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.tuple(ws, ident, ws, fc.constantFrom('=', '=', '+='), ws, valueText, ws, fc.oneof(nl, fc.constant(';'))).map((p) => p.join('')) },
      { weight: 1, arbitrary: nl },
      { weight: 1, arbitrary: fc.constant(';') },
    ),
    { maxLength: 8 },
  )
  .map((stmts) => stmts.join(''));

const fragments = [
  'a', 'memory', 'pci', 'x.y_1', 'Name', '_', '=', '+=', ' ', '\t', '\n', '\n', ';', ',', '[', ']', '[', ']',
  '1', '0x4F', '512', '-1', '1.5', "'s'", '"d"', "'a\\'b'", '"\\n"', '"\\101z"', '"\\1 2"', '"\\x41"', "'", '"',
  '#c\n', '# c', '(', ')', ':', '$', '\r', 'é', "'é'", 'import', '\\', '"\\q"', '"\\18"', '"\\1-5"', '\x00',
];
/** Token soup: mostly invalid, exercising the lexer's error paths. */
export const fragmentConfig = fc.array(fc.constantFrom(...fragments), { maxLength: 14 }).map((a) => a.join(''));

/** Byte-level mutations of a seed text. */
export function mutated(seed: string): fc.Arbitrary<string> {
  return fc
    .array(fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), fc.constantFrom(...fragments)), { minLength: 1, maxLength: 4 })
    .map((ops) => {
      let s = seed;
      for (const [at, op, frag] of ops) {
        const i = s.length ? at % s.length : 0;
        if (op === 'insert') s = s.slice(0, i) + frag + s.slice(i);
        else if (op === 'delete') s = s.slice(0, i) + s.slice(i + 1);
        else s = s.slice(0, i) + frag + s.slice(i + 1);
      }
      return s;
    });
}

const specFragments = [
  ...'0123456789abcdefABCDEFxX:.,@*=+- \t'.split(''),
  'bdf=', 'name=', 'vslot=', 'permissive=', 'rdm_policy=', 'strict', 'seize=', '03:00.0', '0000:', '1f',
  'Relaxed', 'power_mgmt=', 'msitranslate=', '9999999999999999999', 'yes', 'é',
];
export const fragmentSpec = fc.array(fc.constantFrom(...specFragments), { maxLength: 10 }).map((a) => a.join(''));

const hex = (max: number) => fc.integer({ min: 0, max }).map((n) => n.toString(16));
/** Mostly valid PCI_SPEC_STRINGs. */
export const structuredSpec = fc
  .tuple(
    fc.option(hex(0x1ffff), { nil: undefined }),
    hex(0x1ff),
    hex(0x3f),
    fc.oneof(hex(9), fc.constant('*')),
    fc.option(hex(0x2f), { nil: undefined }),
    fc.array(
      fc.tuple(
        fc.constantFrom('permissive', 'msitranslate', 'seize', 'power_mgmt', 'rdm_policy', 'vslot', 'name', 'bdf', 'bogus'),
        fc.constantFrom('0', '1', 'yes', '2', '-1', '', 'strict', 'relaxed', 'invalid', '1f', '20', '03:00.0', 'gpu'),
      ),
      { maxLength: 3 },
    ),
    fc.boolean(),
  )
  .map(([d, b, s, f, v, kvs, trailing]) => {
    let out = `${d !== undefined ? d + ':' : ''}${b}:${s}.${f}${v !== undefined ? '@' + v : ''}`;
    for (const [k, val] of kvs) out += `,${k}=${val}`;
    return out + (trailing ? ',' : '');
  });

/** PCI_SPEC_STRINGs within libxlutil's ranges (most are accepted). */
export const validSpec = fc
  .tuple(
    fc.option(hex(0xffff), { nil: undefined }),
    hex(0xff),
    hex(0x1f),
    fc.oneof(hex(7), fc.constant('*')),
    fc.option(hex(0x1f), { nil: undefined }),
    fc.array(
      fc.tuple(
        fc.constantFrom('permissive', 'msitranslate', 'seize', 'power_mgmt', 'rdm_policy'),
        fc.constantFrom('0', '1', 'yes', 'strict', 'relaxed'),
      ),
      { maxLength: 3 },
    ),
  )
  .map(([d, b, s, f, v, kvs]) => `${d !== undefined ? d + ':' : ''}${b}:${s}.${f}${v !== undefined ? '@' + v : ''}${kvs.map(([k, x]) => `,${k}=${x}`).join('')}`);

/** Configs exercising xl's reading of pci=: global defaults, rdm=, and a list of specs. */
export const pciConfig = fc
  .tuple(
    fc.array(
      fc.tuple(
        fc.constantFrom('pci_permissive', 'pci_msitranslate', 'pci_power_mgmt', 'pci_seize'),
        fc.constantFrom('0', '1', '2', '010', '0x1', '4294967296', '"-1"', '" 7"'),
      ),
      { maxLength: 4 },
    ),
    fc.option(
      fc.constantFrom('"strategy=host"', '"strategy=host,policy=relaxed"', '"policy=strict"', '"strategy=ignore"', '""', '"strategy=host,"'),
      { nil: undefined },
    ),
    fc.array(fc.oneof({ weight: 12, arbitrary: validSpec }, { weight: 1, arbitrary: structuredSpec }, { weight: 1, arbitrary: fragmentSpec }), { maxLength: 4 }),
  )
  .map(([globals, rdm, specs]) => {
    let t = 'name = "vm"\n';
    for (const [k, v] of globals) t += `${k} = ${v}\n`;
    if (rdm !== undefined) t += `rdm = ${rdm}\n`;
    return t + `pci = [ ${specs.map((s) => `"${s}"`).join(', ')} ]\n`;
  });
