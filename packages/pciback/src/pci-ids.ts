/**
 * Names from the pci.ids database (Debian package `pci.ids`, /usr/share/misc/pci.ids), the file
 * lspci uses. Format: `vvvv  name`, `\tdddd  name`, `\t\tssss ssss  name`, then the class
 * section `C cc  name`, `\tss  name`, `\t\tpp  name`.
 */
import * as fs from 'node:fs';

export const DEFAULT_PCI_IDS = '/usr/share/misc/pci.ids';

export class PciIds {
  private readonly vendors = new Map<number, string>();
  private readonly devices = new Map<number, string>();
  private readonly subsystems = new Map<string, string>();
  /** Subclass (`0xCCSS00`) and prog-if (`0x1CCSSPP`) names. */
  private readonly classes = new Map<number, string>();
  /** Base class names, apart: `C 02` and its subclass `00` would otherwise share key 0x020000. */
  private readonly baseClasses = new Map<number, string>();

  static parse(text: string): PciIds {
    const ids = new PciIds();
    let vendor = -1;
    let device = -1;
    let cls = -1;
    let sub = -1;
    let inClasses = false;
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      if (line.startsWith('C ')) {
        inClasses = true;
        const m = /^C ([0-9a-f]{2})\s+(.*)$/.exec(line);
        if (m) {
          cls = parseInt(m[1]!, 16);
          ids.baseClasses.set(cls, m[2]!);
        }
        continue;
      }
      if (!line.startsWith('\t')) {
        const m = /^([0-9a-f]{4})\s+(.*)$/.exec(line);
        // Any other top-level section (e.g. `X` or `L`) ends the vendor and class lists.
        if (!m) {
          vendor = -1;
          cls = -1;
          inClasses = false;
          continue;
        }
        inClasses = false;
        vendor = parseInt(m[1]!, 16);
        ids.vendors.set(vendor, m[2]!);
        continue;
      }
      if (inClasses) {
        if (cls < 0) continue;
        let m = /^\t([0-9a-f]{2})\s+(.*)$/.exec(line);
        if (m) {
          sub = parseInt(m[1]!, 16);
          ids.classes.set((cls << 16) | (sub << 8), m[2]!);
          continue;
        }
        m = /^\t\t([0-9a-f]{2})\s+(.*)$/.exec(line);
        if (m && sub >= 0) ids.classes.set((cls << 16) | (sub << 8) | parseInt(m[1]!, 16) | 0x1000000, m[2]!);
        continue;
      }
      if (vendor < 0) continue;
      let m = /^\t([0-9a-f]{4})\s+(.*)$/.exec(line);
      if (m) {
        device = parseInt(m[1]!, 16);
        ids.devices.set(vendor * 0x10000 + device, m[2]!);
        continue;
      }
      m = /^\t\t([0-9a-f]{4}) ([0-9a-f]{4})\s+(.*)$/.exec(line);
      if (m && device >= 0) ids.subsystems.set(`${vendor}:${device}:${parseInt(m[1]!, 16)}:${parseInt(m[2]!, 16)}`, m[3]!);
    }
    return ids;
  }

  /** Loads the database; an absent file gives an empty database (names are optional). */
  static load(path: string = DEFAULT_PCI_IDS): PciIds {
    let text: string;
    try {
      text = fs.readFileSync(path, 'utf8');
    } catch {
      return new PciIds();
    }
    return PciIds.parse(text);
  }

  vendor(v: number): string | undefined {
    return this.vendors.get(v);
  }

  device(v: number, d: number): string | undefined {
    return this.devices.get(v * 0x10000 + d);
  }

  subsystem(v: number, d: number, sv: number, sd: number): string | undefined {
    return this.subsystems.get(`${v}:${d}:${sv}:${sd}`);
  }

  /** The most specific class name: prog-if, else subclass, else base class (as lspci prints). */
  className(classCode: number): string | undefined {
    return (
      this.classes.get(classCode | 0x1000000) ?? this.classes.get(classCode & 0xffff00) ?? this.baseClasses.get(classCode >> 16)
    );
  }

  /** The subclass-level name, as in lspci's first column (`Ethernet controller`). */
  subclassName(classCode: number): string | undefined {
    return this.classes.get(classCode & 0xffff00) ?? this.baseClasses.get(classCode >> 16);
  }
}
