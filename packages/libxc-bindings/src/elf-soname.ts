import { readFileSync } from 'node:fs';

/**
 * Reads DT_SONAME from a 64-bit little-endian ELF shared object.
 *
 * Why: an overridden library path (tests, odd installs) could point at another Xen release's
 * libxenctrl, whose domctl/sysctl structs differ (interface version 0x15 is 4.17 only). The
 * soname, not the file name, is what the dynamic linker and Debian use to tell the ABIs apart,
 * so that is what we check before handing the file to dlopen().
 *
 * Returns undefined when the object has no soname; throws on anything that is not ELF64 LE.
 */
export function readElfSoname(path: string): string | undefined {
  const buf = readFileSync(path);
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path}: not an ELF file`);
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`${path}: not a 64-bit little-endian ELF object`);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const SHT_DYNAMIC = 6;
  const DT_NULL = 0n;
  const DT_SONAME = 14n;
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    if (o + 64 > buf.length) throw new Error(`${path}: truncated section header table`);
    return {
      type: buf.readUInt32LE(o + 4),
      offset: Number(buf.readBigUInt64LE(o + 0x18)),
      size: Number(buf.readBigUInt64LE(o + 0x20)),
      link: buf.readUInt32LE(o + 0x28),
    };
  };
  for (let i = 0; i < shnum; i++) {
    const dyn = section(i);
    if (dyn.type !== SHT_DYNAMIC) continue;
    // The dynamic section's sh_link names its string table (.dynstr); DT_SONAME is an offset into it.
    const strtab = section(dyn.link);
    for (let o = dyn.offset; o + 16 <= dyn.offset + dyn.size; o += 16) {
      const tag = buf.readBigInt64LE(o);
      if (tag === DT_NULL) break;
      if (tag !== DT_SONAME) continue;
      const start = strtab.offset + Number(buf.readBigUInt64LE(o + 8));
      const end = buf.indexOf(0, start);
      if (end < 0 || end > strtab.offset + strtab.size) throw new Error(`${path}: DT_SONAME outside .dynstr`);
      return buf.toString('latin1', start, end);
    }
    return undefined;
  }
  return undefined;
}
