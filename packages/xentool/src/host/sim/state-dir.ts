/**
 * The simulated host keeps its whole state in one directory between CLI invocations:
 * `state.json`, written atomically (temp file, fsync, rename). Invocations are serialised by
 * the host lock (intent/host-lock.ts), held from open to close.
 */
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { XentoolError } from '../../errors';

export const STATE_FILE = 'state.json';

/**
 * Synchronous (though async in signature): a read-only command then never loads fs.promises nor
 * starts libuv's thread pool, which is a measurable part of a short command's start-up.
 */
export async function readStateFile<T>(dir: string): Promise<T | undefined> {
  let text: string;
  try {
    text = readFileSync(path.join(dir, STATE_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new XentoolError('ERR_SIM_STATE', `${path.join(dir, STATE_FILE)}: the simulated host's state is corrupt (${(e as Error).message}); run 'xentool --sim sim-init' to start afresh`);
  }
}

export async function writeStateFile(dir: string, state: unknown): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const final = path.join(dir, STATE_FILE);
  const tmp = `${final}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(state, null, 1));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, final);
}
