/**
 * The intent log: one record per multi-step operation, written before the first step and after
 * every step, kept twice — in xenstore under `/xentool/intents/<id>` (dom0-only permissions), where
 * every toolstack process on the host sees it, and as a file under the host's state directory
 * (`/var/lib/xentool/intents/<id>.json`, or `<sim-dir>/intents/`), which survives a xenstored
 * restart. Each write bumps `seq`; a reader takes the copy with the higher `seq`, so a process
 * killed between the two writes loses nothing (the older copy is one boundary behind, never
 * ahead of the host).
 */
import { promises as fs, constants as fsc } from 'node:fs';
import * as path from 'node:path';
import type { Step } from '../plan/plan';
import type { Xs, XsOps } from '../xs/xs';
import type { XsTreeCopy } from '../xs/tree';

export const INTENT_XS_ROOT = '/xentool/intents';
export const REAL_INTENT_DIR = '/var/lib/xentool/intents';

/** What an interrupted step may have changed, observed just before it started. */
export interface Preimage {
  /** The driver bound to the step's device (its `/sys/bus/pci/drivers/<name>` path), null for none. */
  driver?: string | null;
  /** xenstore subtrees the step may change, as they were. */
  trees?: XsTreeCopy[];
  /**
   * The step's device in the domain's stored config for xl, as it was (`libxl.pcidev*` steps):
   * its entry and place, entry null when not listed; null when the domain had no stored config.
   */
  pcidev?: { uuid: string; entry: string | null; index: number | null } | null;
}

export type RecoveryPolicy =
  | { mode: 'rollback'; why: string }
  | { mode: 'forward-after'; step: number; why: string };

export interface CompletedStep {
  index: number;
  undo: Step[];
  /** Set once recovery (or the applier's own rollback) has undone this step. */
  undone?: boolean;
  /** How many of `undo` recovery has applied so far (a recovery killed mid-way resumes there). */
  undoneCount?: number;
}

export interface IntentRecord {
  format: 'xentool-intent/1';
  id: string;
  /** Bumped by every write; the higher of the xenstore and file copies wins. */
  seq: number;
  pid: number;
  startedAt: string;
  /** What was asked, e.g. `pci-attach pv 0000:01:00.0`. */
  command: string;
  devices: string[];
  domains: number[];
  steps: Step[];
  recovery: RecoveryPolicy;
  completed: CompletedStep[];
  /** The step that had started and not finished, with what it may have changed. */
  inFlight?: { index: number; pre: Preimage };
  /**
   * applying: steps are running. rolling-back: the applier is undoing after a failure.
   * recovering: pci-recover is working on it. stuck: an undo failed; a person must look.
   * done: finished (a tombstone written just before the record is deleted).
   */
  status: 'applying' | 'rolling-back' | 'recovering' | 'stuck' | 'done';
  failures?: string[];
}

/**
 * xenstore refuses values above 4096 bytes (XENSTORE_PAYLOAD_MAX), and a record with captured
 * trees is larger, so the JSON is split into `part-N` children. 1024 characters keep a part
 * under the limit even if every character were a 3-byte UTF-8 sequence.
 */
const PART_CHARS = 1024;

export class IntentStore {
  constructor(
    readonly xs: Xs,
    readonly dir: string,
  ) {}

  static newId(pid: number): string {
    return `${Date.now().toString(36)}-${pid}-${Math.floor(Math.random() * 0x10000).toString(16)}`;
  }

  /**
   * Writes both copies: xenstore first (one transaction), then `between` (the simulated host
   * persists itself there, record included), then the file (temp, fsync, rename).
   */
  async write(rec: IntentRecord, between?: () => Promise<void>): Promise<void> {
    rec.seq++;
    const text = JSON.stringify(rec);
    await this.xs.transaction(async (tx) => {
      await ensureRoot(tx);
      const node = `${INTENT_XS_ROOT}/${rec.id}`;
      await tx.rm(node);
      await tx.write(node, String(rec.seq));
      const parts = Math.max(1, Math.ceil(text.length / PART_CHARS));
      for (let i = 0; i < parts; i++) await tx.write(`${node}/part-${i}`, text.slice(i * PART_CHARS, (i + 1) * PART_CHARS));
    });
    await between?.();
    await writeFileAtomic(this.dir, `${rec.id}.json`, text);
  }

  /**
   * Closes a finished record: a `done` tombstone in the file first, so that a kill between the
   * two deletions can never resurrect an older open copy from xenstore; then both go.
   */
  async remove(rec: IntentRecord): Promise<void> {
    rec.status = 'done';
    rec.seq++;
    await writeFileAtomic(this.dir, `${rec.id}.json`, JSON.stringify(rec));
    await this.xs.transaction(async (tx) => {
      await tx.rm(`${INTENT_XS_ROOT}/${rec.id}`);
      // No empty /xentool left behind: a host with nothing open looks as if xentool never ran.
      if ((await tx.directory(INTENT_XS_ROOT)).length === 0) await tx.rm('/xentool');
    });
    await fs.rm(path.join(this.dir, `${rec.id}.json`), { force: true });
  }

  /** Every record on the host (both places merged, newer copy wins), oldest first. */
  async list(): Promise<IntentRecord[]> {
    const ids = new Set(await this.xs.directory(INTENT_XS_ROOT));
    const files = await fs.readdir(this.dir).catch(() => [] as string[]);
    for (const f of files) if (f.endsWith('.json')) ids.add(f.slice(0, -'.json'.length));
    const out: IntentRecord[] = [];
    for (const id of ids) {
      const r = await this.read(id);
      if (r) out.push(r);
    }
    return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
  }

  async read(id: string): Promise<IntentRecord | undefined> {
    const [fromXs, fromFile] = await Promise.all([this.readXs(id), this.readFile(id)]);
    if (fromXs && fromFile) return fromXs.seq >= fromFile.seq ? fromXs : fromFile;
    return fromXs ?? fromFile;
  }

  private async readXs(id: string): Promise<IntentRecord | undefined> {
    const node = `${INTENT_XS_ROOT}/${id}`;
    const parts = (await this.xs.directory(node)).filter((p) => /^part-\d+$/.test(p));
    if (parts.length === 0) return undefined;
    let text = '';
    for (let i = 0; i < parts.length; i++) text += (await this.xs.read(`${node}/part-${i}`)) ?? '';
    return parseRecord(text);
  }

  private async readFile(id: string): Promise<IntentRecord | undefined> {
    const text = await fs.readFile(path.join(this.dir, `${id}.json`), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : parseRecord(text);
  }

  /** Drops a leftover copy (xenstore node or file) of a record already known to be done. */
  async purge(id: string): Promise<void> {
    await this.xs.transaction(async (tx) => {
      await tx.rm(`${INTENT_XS_ROOT}/${id}`);
      if ((await tx.directory(INTENT_XS_ROOT)).length === 0) await tx.rm('/xentool');
    });
    await fs.rm(path.join(this.dir, `${id}.json`), { force: true });
  }
}

function parseRecord(text: string): IntentRecord | undefined {
  try {
    const r = JSON.parse(text) as IntentRecord;
    return r.format === 'xentool-intent/1' ? r : undefined;
  } catch {
    // A torn copy cannot happen with temp+rename or a xenstore transaction; a hand-edited one
    // can. The other copy, if any, still counts.
    return undefined;
  }
}

async function ensureRoot(tx: XsOps): Promise<void> {
  if ((await tx.read(INTENT_XS_ROOT)) !== undefined) return;
  // Only dom0 may read or write the records: they name devices and domains of every guest.
  await tx.mkdir('/xentool');
  await tx.setPerms('/xentool', [{ domid: 0, perm: 'n' }]);
  await tx.mkdir(INTENT_XS_ROOT);
  await tx.setPerms(INTENT_XS_ROOT, [{ domid: 0, perm: 'n' }]);
}

/** temp file, fsync, rename, fsync of the directory (so the rename itself survives power loss). */
export async function writeFileAtomic(dir: string, name: string, text: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const final = path.join(dir, name);
  const tmp = `${final}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, final);
  const d = await fs.open(dir, fsc.O_RDONLY);
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
