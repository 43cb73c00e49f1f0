/**
 * Capturing a xenstore subtree (values and permissions, in creation order) and putting it back
 * exactly, so that removing records can be undone. Ancestors are captured too: removing a
 * device's last record also removes parents left empty (libxl's path cleanup), and a parent
 * re-created implicitly would get inherited, not original, permissions.
 */
import type { XsOps, XsPerm } from './xs';

export interface XsNodeCopy {
  path: string;
  value: string;
  perms: XsPerm[];
}

export interface XsTreeCopy {
  root: string;
  /** Ancestors of `root`, outermost first (only re-created if missing). */
  ancestors: XsNodeCopy[];
  /** `root` and everything below it, parents before children; [] when `root` did not exist. */
  nodes: XsNodeCopy[];
}

async function copyNode(xs: XsOps, path: string): Promise<XsNodeCopy | undefined> {
  const value = await xs.read(path);
  if (value === undefined) return undefined;
  return { path, value, perms: (await xs.getPerms(path)) ?? [] };
}

async function subtree(xs: XsOps, root: string): Promise<XsNodeCopy[]> {
  const n = await copyNode(xs, root);
  if (!n) return [];
  const out = [n];
  for (const child of await xs.directory(root)) out.push(...(await subtree(xs, `${root}/${child}`)));
  return out;
}

export async function captureTree(xs: XsOps, root: string): Promise<XsTreeCopy> {
  const ancestors: XsNodeCopy[] = [];
  for (let p = root.slice(0, root.lastIndexOf('/')); p.length > 0; p = p.slice(0, p.lastIndexOf('/'))) {
    const n = await copyNode(xs, p);
    if (n) ancestors.unshift(n);
  }
  return { root, ancestors, nodes: await subtree(xs, root) };
}

/** Puts the copy back: missing ancestors first, then the subtree replaces whatever is at root. */
export async function restoreTree(tx: XsOps, copy: XsTreeCopy): Promise<void> {
  for (const a of copy.ancestors) {
    if ((await tx.read(a.path)) !== undefined) continue;
    await tx.write(a.path, a.value);
    if (a.perms.length > 0) await tx.setPerms(a.path, a.perms);
  }
  await tx.rm(copy.root);
  for (const n of copy.nodes) {
    await tx.write(n.path, n.value);
    if (n.perms.length > 0) await tx.setPerms(n.path, n.perms);
  }
}
