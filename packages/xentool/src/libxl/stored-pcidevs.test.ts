/**
 * The pcidevs splice against the files xl 4.17 wrote in the Xen VM (domain/fixtures/) and
 * against libxl's generator rules (formatLibxlJson, itself checked byte for byte against those
 * files): what libxl would write is the whole document regenerated from its parsed form with the
 * entry put in, in the IDL's member order.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatLibxlJson, libxlPciJson, type LibxlJson } from '../domain/libxl-userdata';
import { emptyPciSpec } from '../pci-spec/pci-spec';
import { pcidevEntryText, putPcidev, putStoredPcidev, readStoredPcidev } from './stored-pcidevs';

const fixture = (name: string) => readFileSync(join(__dirname, '..', 'domain', 'fixtures', name), 'utf8').replace(/\0$/, '');
type Doc = { [key: string]: LibxlJson };
const parse = (t: string) => JSON.parse(t) as Doc;

const D05 = { domain: 0, bus: 0, dev: 5, func: 0 };
/** What a hot-plug of `BB:DD.F` stores (libxl_device_pci after setdefault: rdm_policy strict). */
const hotplug = (b: { domain: number; bus: number; dev: number; func: number }, over: Partial<ReturnType<typeof emptyPciSpec>> = {}) =>
  libxlPciJson({ ...emptyPciSpec(), ...b, vfunc_mask: 1, rdm_policy: 'strict', ...over }, 'pv');

/** The document libxl would print with `pcidevs` set to `devs` (members in the IDL's order). */
function regenerated(doc: string, devs: Doc[]): string {
  const order = ['c_info', 'b_info', 'disks', 'nics', 'pcidevs', 'rdms', 'dtdevs', 'vfbs', 'vkbs', 'vtpms', 'p9s', 'pvcallsifs', 'vdispls', 'vsnds', 'channels', 'usbctrls', 'usbdevs', 'on_poweroff', 'on_reboot', 'on_watchdog', 'on_crash', 'on_soft_reset'];
  const d = parse(doc);
  if (devs.length > 0) d.pcidevs = devs;
  else delete d.pcidevs;
  const out: Doc = {};
  for (const k of order) if (d[k] !== undefined) out[k] = d[k]!;
  return formatLibxlJson(out);
}

describe('putPcidev', () => {
  it("removing xl's create-time device and putting the hot-plug entry back gives xl's file byte for byte", () => {
    const xl = fixture('xl-4.17-pv-pci.libxl-json');
    const removed = putPcidev(xl, D05, null);
    expect(removed.previous).toEqual({ index: 0, text: '{\n            "dev": 5,\n            "vfunc_mask": 1,\n            "rdm_policy": "strict"\n        }' });
    expect(removed.text).toBe(regenerated(xl, []));
    expect(removed.text).not.toContain('pcidevs');
    // xl's file ends with a newline; the NUL was taken off by the reader, as putStoredPcidev does.
    const back = putPcidev(removed.text, D05, pcidevEntryText(hotplug(D05)));
    expect(back.previous).toBeNull();
    expect(back.text).toBe(xl);
  });

  it('adds the array after b_info (nics, disks absent) in a file xl wrote without devices', () => {
    const xl = fixture('xl-4.17-pv.libxl-json');
    const entry = hotplug({ domain: 0, bus: 3, dev: 0, func: 0 }, { vdevfn: 0x28 });
    const r = putPcidev(xl, { domain: 0, bus: 3, dev: 0, func: 0 }, pcidevEntryText(entry));
    expect(r.text).toBe(regenerated(xl, [entry]));
    expect(Object.keys(parse(r.text))).toEqual(['c_info', 'b_info', 'pcidevs', 'on_reboot', 'on_soft_reset']);
  });

  it('appends a second device after the one xl recorded for HVM at creation, keeping that one as written', () => {
    const xl = fixture('xl-4.17-hvm-pci.libxl-json');
    const first = parse(xl).pcidevs as Doc[];
    const second = hotplug({ domain: 0, bus: 1, dev: 0, func: 0 }, { vdevfn: 0x30 });
    const r = putPcidev(xl, { domain: 0, bus: 1, dev: 0, func: 0 }, pcidevEntryText(second));
    expect(r.text).toBe(regenerated(xl, [...first, second]));
    // Detaching it again gives xl's bytes back.
    expect(putPcidev(r.text, { domain: 0, bus: 1, dev: 0, func: 0 }, null).text).toBe(xl);
  });

  it('replaces an entry for the same device where it stands (libxl: the last match), and says what was there', () => {
    const xl = fixture('xl-4.17-pv-pci.libxl-json');
    const two = putPcidev(xl, { domain: 0, bus: 1, dev: 0, func: 0 }, pcidevEntryText(hotplug({ domain: 0, bus: 1, dev: 0, func: 0 }))).text;
    const again = hotplug(D05, { permissive: true, vdevfn: 0x38 });
    const r = putPcidev(two, D05, pcidevEntryText(again));
    expect(r.previous?.index).toBe(0);
    expect((parse(r.text).pcidevs as Doc[]).map((d) => [d.dev ?? 0, d.bus ?? 0, d.permissive ?? false])).toEqual([
      [5, 0, true],
      [0, 1, false],
    ]);
  });

  it('an entry put back at its old index lands there; removing a device that is not listed changes nothing', () => {
    const a = { domain: 0, bus: 1, dev: 0, func: 0 };
    const b = { domain: 0, bus: 2, dev: 0, func: 0 };
    let doc = fixture('xl-4.17-pv-pci.libxl-json');
    doc = putPcidev(doc, a, pcidevEntryText(hotplug(a))).text;
    doc = putPcidev(doc, b, pcidevEntryText(hotplug(b))).text;
    const removed = putPcidev(doc, a, null);
    expect(removed.previous?.index).toBe(1);
    expect(putPcidev(removed.text, a, removed.previous!.text, removed.previous!.index).text).toBe(doc);
    expect(putPcidev(doc, { domain: 0, bus: 9, dev: 0, func: 0 }, null)).toEqual({ text: doc, previous: null });
  });

  it('keeps every byte outside pcidevs, including what a JSON round trip would change', () => {
    // A 64-bit number past 2^53, an escaped character, and a member order our generator would
    // not produce: all must survive untouched.
    const doc = '{\n    "c_info": {\n        "name": "caf\\u00e9"\n    },\n    "b_info": {\n        "shadow_memkb": 18446744073709551615\n    },\n    "pcidevs": [\n        {\n            "dev": 5\n        }\n    ],\n    "on_reboot": "restart"\n}\n';
    const entry = pcidevEntryText(hotplug({ domain: 0, bus: 2, dev: 0, func: 0 }));
    const r = putPcidev(doc, { domain: 0, bus: 2, dev: 0, func: 0 }, entry);
    const [head, tail] = doc.split(/"pcidevs": \[[^\]]*\]/);
    expect(r.text.startsWith(head!)).toBe(true);
    expect(r.text.endsWith(tail!)).toBe(true);
    expect(putPcidev(r.text, { domain: 0, bus: 2, dev: 0, func: 0 }, null).text).toBe(doc);
  });

  it('removing the last device when pcidevs is the first or the only member leaves valid JSON', () => {
    const first = '{\n    "pcidevs": [\n        {\n            "dev": 5\n        }\n    ],\n    "on_reboot": "restart"\n}\n';
    expect(putPcidev(first, D05, null).text).toBe('{\n    "on_reboot": "restart"\n}\n');
    const only = '{\n    "pcidevs": [\n        {\n            "dev": 5\n        }\n    ]\n}\n';
    expect(putPcidev(only, D05, null).text).toBe('{\n\n}\n');
    expect(putPcidev('{\n\n}\n', D05, pcidevEntryText({ dev: 5 })).text).toBe(only);
  });

  it('refuses a stored config that is not JSON, or whose pcidevs is not an array', () => {
    expect(() => putPcidev('{"c_info": ', D05, null)).toThrow(expect.objectContaining({ code: 'ERR_LIBXL_CONFIG' }));
    expect(() => putPcidev('{"pcidevs": 5}', D05, null)).toThrow(expect.objectContaining({ code: 'ERR_LIBXL_CONFIG', message: expect.stringContaining('not an array') }));
  });
});

describe('putStoredPcidev on the files', () => {
  let dir: string;
  const U = 'ace501b5-df58-4db1-8a60-286e211902f2';
  const file = () => join(dir, `userdata-d.28.${U}.libxl-json`);
  const access = () => ({ dir, lock: { timeoutMs: 5_000 } });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'xentool-pcidevs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a domain without a stored config: nothing written, not even a lock file', async () => {
    expect(await putStoredPcidev(access(), 28, U, D05, pcidevEntryText(hotplug(D05)))).toBeNull();
    expect(readdirSync(dir)).toEqual([]);
    expect(readStoredPcidev(dir, 28, U, D05)).toBeUndefined();
  });

  it('rewrites the file with the NUL libxl stores, by rename, and removes the lock file afterwards', async () => {
    const xl = readFileSync(join(__dirname, '..', 'domain', 'fixtures', 'xl-4.17-pv-pci.libxl-json'));
    writeFileSync(file(), xl);
    const r = await putStoredPcidev(access(), 28, U, D05, null);
    expect(r).toMatchObject({ changed: true, previous: { index: 0 } });
    expect(readFileSync(file(), 'latin1').endsWith('\n\0')).toBe(true);
    expect(readStoredPcidev(dir, 28, U, D05)).toBeNull();
    expect(readdirSync(dir)).toEqual([`userdata-d.28.${U}.libxl-json`]);
    await putStoredPcidev(access(), 28, U, D05, r!.previous!.text, r!.previous!.index);
    expect(readFileSync(file()).equals(xl)).toBe(true);
  });

  it('keeps bytes that are not UTF-8 as they are', async () => {
    const doc = Buffer.concat([Buffer.from('{\n    "c_info": {\n        "name": "'), Buffer.from([0xe9, 0xff]), Buffer.from('"\n    }\n}\n\0')]);
    writeFileSync(file(), doc);
    await putStoredPcidev(access(), 28, U, D05, pcidevEntryText(hotplug(D05, { name: 'café' })));
    const now = readFileSync(file());
    expect(now.subarray(0, 40).equals(doc.subarray(0, 40))).toBe(true);
    expect(now.includes(Buffer.from('"name": "café"'))).toBe(true);
    await putStoredPcidev(access(), 28, U, D05, null);
    expect(readFileSync(file()).equals(doc)).toBe(true);
  });

  it('an empty stored config is an error naming the file', async () => {
    writeFileSync(file(), '');
    await expect(putStoredPcidev(access(), 28, U, D05, null)).rejects.toMatchObject({ code: 'ERR_LIBXL_CONFIG', message: expect.stringContaining(file()) });
    expect(existsSync(join(dir, `userdata-l.28.${U}.domain-userdata-lock`))).toBe(false);
  });
});
