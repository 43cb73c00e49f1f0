/**
 * The xenstore operations xentool's device code needs. Both hosts provide them: the real host
 * through the wire-protocol client on xenstored's socket, the simulated host through the same
 * client connected to the in-process xenstored (packages/xenstore), so device code runs unchanged.
 * Reads of a missing node answer `undefined` rather than throwing: absence is a normal answer for
 * a toolstack.
 */

export type XsPermLetter = 'n' | 'r' | 'w' | 'b';
export interface XsPerm {
  domid: number;
  perm: XsPermLetter;
}

export interface XsOps {
  read(path: string): Promise<string | undefined>;
  write(path: string, value: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  /** Removes a node and its subtree; missing nodes are not an error. */
  rm(path: string): Promise<void>;
  /** Children names; [] for a missing node. */
  directory(path: string): Promise<string[]>;
  setPerms(path: string, perms: XsPerm[]): Promise<void>;
  /** The node's permissions (owner first); undefined for a missing node. */
  getPerms(path: string): Promise<XsPerm[] | undefined>;
}

export interface XsWatch extends AsyncIterable<{ path: string; token: string }> {
  close(): Promise<void>;
}

export interface Xs extends XsOps {
  /** Runs `fn` in a transaction, re-running it from the start when the commit says EAGAIN. */
  transaction<T>(fn: (tx: XsOps) => Promise<T>): Promise<T>;
  /** Fires once immediately, then on every change at or below `path`. */
  watch(path: string, token: string): XsWatch;
  close(): Promise<void>;
}
