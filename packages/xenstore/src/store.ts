/**
 * The tree of the in-memory xenstored, stored flat as C xenstored stores it in its TDB: one
 * record per absolute path, holding the value, the permissions, the ordered child names and a
 * generation. A transaction is an overlay over that map which remembers the generation of
 * every record it touched; committing checks those generations, which is 4.17's conflict rule
 * (any node read or written in the transaction changed meanwhile -> EAGAIN).
 */
import { XenstoreError } from './errors';
import { baseName, childPath, isValidNodeName, parentOf } from './paths';
import type { Accessor, Perm } from './perms';
import { PERM_OWNER, PERM_READ, PERM_WRITE, permFor } from './perms';

export interface NodeRec {
  readonly value: Buffer;
  readonly perms: readonly Perm[];
  /** In creation order, as xenstored appends them. */
  readonly children: readonly string[];
  readonly generation: number;
}

/** A node change, for watches: `exact` events only match watches on that very path. */
export interface ChangeEvent {
  path: string;
  perms: readonly Perm[];
  oldPerms?: readonly Perm[];
  exact: boolean;
}

export interface View {
  get(path: string): NodeRec | undefined;
  put(path: string, rec: Omit<NodeRec, 'generation'>): void;
  del(path: string): void;
  /** Nodes owned by `domid` (first perms entry), for the per-domain entry quota. */
  owned(domid: number): number;
}

/** Unprivileged domains' default limits in C xenstored 4.17 (dom0 is exempt). */
export const QUOTA = {
  entries: 1000,
  entrySize: 2048,
  permsPerNode: 5,
  watches: 128,
  transactions: 10,
} as const;

/** Absent records are remembered as generation -1. */
const ABSENT = -1;

export class BaseView implements View {
  generation = 0;
  private readonly owners = new Map<number, number>();
  constructor(readonly map: Map<string, NodeRec>) {}
  get(path: string): NodeRec | undefined {
    return this.map.get(path);
  }
  put(path: string, rec: Omit<NodeRec, 'generation'>): void {
    this.count(this.map.get(path), -1);
    const next = { ...rec, generation: ++this.generation };
    this.map.set(path, next);
    this.count(next, 1);
  }
  del(path: string): void {
    this.count(this.map.get(path), -1);
    this.map.delete(path);
  }
  clear(): void {
    this.map.clear();
    this.owners.clear();
  }
  owned(domid: number): number {
    return this.owners.get(domid) ?? 0;
  }
  private count(rec: NodeRec | undefined, d: number): void {
    if (!rec) return;
    const id = rec.perms[0]!.id;
    this.owners.set(id, (this.owners.get(id) ?? 0) + d);
  }
}

export class TxView implements View {
  readonly overlay = new Map<string, NodeRec | null>();
  readonly accessed = new Map<string, number>();
  readonly events: ChangeEvent[] = [];
  constructor(readonly base: BaseView) {}
  private touch(path: string): void {
    if (!this.accessed.has(path)) this.accessed.set(path, this.base.get(path)?.generation ?? ABSENT);
  }
  get(path: string): NodeRec | undefined {
    const o = this.overlay.get(path);
    if (o !== undefined) return o ?? undefined;
    this.touch(path);
    return this.base.get(path);
  }
  put(path: string, rec: Omit<NodeRec, 'generation'>): void {
    this.touch(path);
    this.overlay.set(path, { ...rec, generation: this.base.generation });
  }
  del(path: string): void {
    this.touch(path);
    this.overlay.set(path, null);
  }
  owned(domid: number): number {
    let n = this.base.owned(domid);
    for (const [path, rec] of this.overlay) {
      const before = this.base.get(path);
      if (before && before.perms[0]!.id === domid) n--;
      if (rec && rec.perms[0]!.id === domid) n++;
    }
    return n;
  }
  /** Applies the overlay to the base, or throws EAGAIN if anything it touched has changed. */
  commit(): void {
    for (const [path, gen] of this.accessed) {
      if ((this.base.get(path)?.generation ?? ABSENT) !== gen) {
        throw new XenstoreError('EAGAIN', `transaction conflict on ${path}`);
      }
    }
    for (const [path, rec] of this.overlay) {
      if (rec === null) this.base.del(path);
      else this.base.put(path, rec);
    }
  }
}

function fail(code: string, what: string): never {
  throw new XenstoreError(code, what);
}

export function recordSize(rec: Omit<NodeRec, 'generation'>): number {
  // struct xs_tdb_record_hdr (24 bytes) + 8 per xs_permissions + data + NUL-separated children.
  let childlen = 0;
  for (const c of rec.children) childlen += Buffer.byteLength(c) + 1;
  return 24 + 8 * rec.perms.length + rec.value.length + childlen;
}

function putChecked(view: View, who: Accessor, path: string, rec: Omit<NodeRec, 'generation'>): void {
  if (!who.privileged && recordSize(rec) >= QUOTA.entrySize) fail('ENOSPC', `node ${path} over the size quota`);
  view.put(path, rec);
}

/**
 * The nearest existing ancestor's verdict. xenstored hides whether a node exists from a
 * caller who may not see its parent: ENOENT only if that ancestor grants the wanted access,
 * EACCES otherwise (errno_from_parents).
 */
function errnoFromParents(view: View, who: Accessor, name: string, errnum: string, need: number): string {
  let p = name;
  while (p !== '/') {
    p = parentOf(p);
    const rec = view.get(p);
    if (rec) return permFor(who, rec.perms) & need ? errnum : 'EACCES';
  }
  return 'EACCES';
}

export function checkName(name: string, who: Accessor): void {
  if (!isValidNodeName(name, !who.privileged)) fail('EINVAL', `invalid path ${JSON.stringify(name)}`);
}

export function getNode(view: View, who: Accessor, name: string, need: number): NodeRec {
  checkName(name, who);
  const rec = view.get(name);
  if (rec && (permFor(who, rec.perms) & need) === need) return rec;
  fail(errnoFromParents(view, who, name, rec ? 'EACCES' : 'ENOENT', need), name);
}

/** getNode that reports a missing-but-creatable node as undefined instead of ENOENT. */
function getForWrite(view: View, who: Accessor, name: string): NodeRec | undefined {
  try {
    return getNode(view, who, name, PERM_WRITE);
  } catch (e) {
    if (e instanceof XenstoreError && e.code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Creates `name` and any missing ancestors. Each new node inherits its parent's permissions,
 * except that a node created by an unprivileged domain is owned by that domain
 * (construct_node).
 */
function createNode(view: View, who: Accessor, name: string, value: Buffer): void {
  const chain: string[] = [];
  let p = name;
  while (!view.get(p)) {
    chain.push(p);
    p = parentOf(p);
  }
  // Build every record first and check the quotas, then write: a refused create must leave
  // no trace (C xenstored undoes the nodes it had written, create_node's error path).
  const writes: [string, Omit<NodeRec, 'generation'>][] = [];
  const existing = view.get(p)!;
  writes.push([p, { ...existing, children: [...existing.children, baseName(chain[chain.length - 1]!)] }]);
  let parentPerms = existing.perms;
  for (let i = chain.length - 1; i >= 0; i--) {
    const path = chain[i]!;
    const perms = parentPerms.map((x) => ({ ...x }));
    if (!who.privileged) perms[0] = { id: who.domid, perm: perms[0]!.perm };
    writes.push([path, { value: i === 0 ? value : Buffer.alloc(0), perms, children: i === 0 ? [] : [baseName(chain[i - 1]!)] }]);
    parentPerms = perms;
  }
  if (!who.privileged) {
    // Every node a domain creates counts against its entry quota (domain_entry()).
    if (view.owned(who.domid) + chain.length > QUOTA.entries) fail('ENOSPC', `domain ${who.domid} owns too many nodes`);
    for (const [path, rec] of writes) {
      if (recordSize(rec) >= QUOTA.entrySize) fail('ENOSPC', `node ${path} over the size quota`);
    }
  }
  for (const [path, rec] of writes) view.put(path, rec);
}

export function opRead(view: View, who: Accessor, name: string): Buffer {
  return getNode(view, who, name, PERM_READ).value;
}

export function opDirectory(view: View, who: Accessor, name: string): NodeRec {
  return getNode(view, who, name, PERM_READ);
}

export function opWrite(view: View, who: Accessor, name: string, value: Buffer, events: ChangeEvent[]): void {
  const rec = getForWrite(view, who, name);
  if (rec) putChecked(view, who, name, { ...rec, value });
  else createNode(view, who, name, value);
  events.push({ path: name, perms: view.get(name)!.perms, exact: false });
}

export function opMkdir(view: View, who: Accessor, name: string, events: ChangeEvent[]): void {
  if (getForWrite(view, who, name)) return;
  createNode(view, who, name, Buffer.alloc(0));
  events.push({ path: name, perms: view.get(name)!.perms, exact: false });
}

/** Deletes a subtree, children first, with one exact event per deleted node. */
function deleteTree(view: View, name: string, events: ChangeEvent[]): void {
  const rec = view.get(name);
  if (!rec) return;
  for (const c of rec.children) deleteTree(view, childPath(name, c), events);
  events.push({ path: name, perms: rec.perms, exact: true });
  view.del(name);
}

export function removeSubtree(view: View, name: string, events: ChangeEvent[]): void {
  const rec = view.get(name);
  if (!rec || name === '/') return;
  events.push({ path: name, perms: rec.perms, exact: false });
  deleteTree(view, name, events);
  const parentName = parentOf(name);
  const parent = view.get(parentName);
  if (parent) {
    const base = baseName(name);
    view.put(parentName, { ...parent, children: parent.children.filter((c) => c !== base) });
  }
}

export function opRm(view: View, who: Accessor, name: string, events: ChangeEvent[]): void {
  try {
    getNode(view, who, name, PERM_WRITE);
  } catch (e) {
    // Removing something already gone is fine as long as its parent exists (do_rm).
    if (e instanceof XenstoreError && e.code === 'ENOENT' && view.get(parentOf(name))) return;
    throw e;
  }
  if (name === '/') fail('EINVAL', 'cannot remove /');
  removeSubtree(view, name, events);
}

export function opGetPerms(view: View, who: Accessor, name: string): readonly Perm[] {
  return getNode(view, who, name, PERM_READ).perms;
}

export function opSetPerms(view: View, who: Accessor, name: string, perms: Perm[], events: ChangeEvent[]): void {
  const rec = getNode(view, who, name, PERM_WRITE | PERM_OWNER);
  // Only tools may hand a node to another owner.
  if (!who.privileged && perms[0]!.id !== rec.perms[0]!.id) fail('EPERM', `${name}: only dom0 may change the owner`);
  putChecked(view, who, name, { ...rec, perms });
  events.push({ path: name, perms, oldPerms: rec.perms, exact: false });
}

/** Every path in the tree, parents before children. */
export function walk(view: View, from = '/'): string[] {
  const out: string[] = [];
  const stack = [from];
  while (stack.length) {
    const p = stack.pop()!;
    const rec = view.get(p);
    if (!rec) continue;
    out.push(p);
    for (let i = rec.children.length - 1; i >= 0; i--) stack.push(childPath(p, rec.children[i]!));
  }
  return out;
}
