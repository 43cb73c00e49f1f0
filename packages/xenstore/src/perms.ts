/**
 * Xenstore permissions (tools/xenstore/xs_lib.c string form, xenstored_core.c perm_for_conn).
 * A node's list is `[owner, ...acl]`: the first entry names the owner AND its letter is the
 * access of every domain not listed; the later entries grant per-domain access.
 */

export type PermLetter = 'n' | 'r' | 'w' | 'b';
export interface Perm {
  id: number;
  perm: PermLetter;
}

export const PERM_READ = 1;
export const PERM_WRITE = 2;
export const PERM_OWNER = 8;

const LETTER_BITS: Record<PermLetter, number> = { n: 0, r: PERM_READ, w: PERM_WRITE, b: PERM_READ | PERM_WRITE };

export function permBits(p: PermLetter): number {
  return LETTER_BITS[p];
}

export function formatPerm(p: Perm): string {
  return `${p.perm}${p.id}`;
}

/** Parses `r5`, `n0`, ...; returns undefined for anything xs_strings_to_perms refuses. */
export function parsePerm(s: string): Perm | undefined {
  const m = /^([nrwb])(\d{1,10})$/.exec(s);
  if (!m) return undefined;
  const id = Number(m[2]);
  if (id > 0xffffffff) return undefined;
  return { id, perm: m[1] as PermLetter };
}

/** What a connection may do to a node with these perms. */
export interface Accessor {
  domid: number;
  /** dom0 and the socket: everything, everywhere. */
  privileged: boolean;
  /** SET_TARGET: a device-model stub domain acts with its target's rights too. */
  target?: number;
}

export function permFor(who: Accessor, perms: readonly Perm[]): number {
  const all = PERM_READ | PERM_WRITE | PERM_OWNER;
  const owner = perms[0]!;
  if (who.privileged || owner.id === who.domid || (who.target !== undefined && owner.id === who.target)) return all;
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i]!;
    if (p.id === who.domid || (who.target !== undefined && p.id === who.target)) return permBits(p.perm);
  }
  return permBits(owner.perm);
}
