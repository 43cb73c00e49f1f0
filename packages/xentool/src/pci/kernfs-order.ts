/**
 * The order in which Linux lists a sysfs directory. kernfs keeps a directory's children in a
 * red-black tree ordered by (name hash, name) and readdir walks that tree, so `ls -U` order (and
 * so the order xl prints pciback's devices in, since libxl lists the driver directory) is the hash
 * order, not the name order. Our Sysfs sorts names, so the real order is recomputed here.
 *
 * Found in the Xen-in-QEMU VM: with 00:04.0, 00:05.0, 00:06.0, 01:01.0 and 01:02.0 bound to
 * pciback, `xl pci-assignable-list` printed 01:01.0, 00:04.0, 00:06.0, 01:02.0, 00:05.0, which is
 * this order (kernel 6.1, fs/kernfs/dir.c kernfs_name_hash with no namespace).
 */

const MASK64 = (1n << 64n) - 1n;
/** include/linux/hash.h GOLDEN_RATIO_64 (hash_long on a 64-bit kernel). */
const GOLDEN_RATIO_64 = 0x61c8864680b583ebn;
const INT_MAX = 0x7fffffffn;

/** kernfs_name_hash(name, NULL): partial_name_hash over the bytes, end_name_hash, then clamped. */
export function kernfsNameHash(name: string): number {
  let hash = 0n;
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = BigInt(byte);
    hash = ((hash + (c << 4n) + (c >> 4n)) * 11n) & MASK64;
  }
  let h = (((hash * GOLDEN_RATIO_64) & MASK64) >> 32n) & INT_MAX;
  // kernfs reserves 0, 1 (dot entries) and INT_MAX.
  if (h < 2n) h += 2n;
  if (h >= INT_MAX) h = INT_MAX - 1n;
  return Number(h);
}

/** The names in kernfs readdir order. */
export function kernfsOrder(names: readonly string[]): string[] {
  const keyed = names.map((n) => ({ n, h: kernfsNameHash(n) }));
  keyed.sort((a, b) => a.h - b.h || (a.n < b.n ? -1 : a.n > b.n ? 1 : 0));
  return keyed.map((k) => k.n);
}
