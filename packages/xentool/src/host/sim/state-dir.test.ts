import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStateFile, writeStateFile } from './state-dir';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'simstate-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('sim state directory', () => {
  it('round-trips state and leaves no temporary file behind', async () => {
    expect(await readStateFile(dir)).toBeUndefined();
    await writeStateFile(dir, { a: [1, 2], b: 'x' });
    expect(await readStateFile(dir)).toEqual({ a: [1, 2], b: 'x' });
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('reports a corrupt state file as one coded error', async () => {
    writeFileSync(join(dir, 'state.json'), '{"a": ');
    await expect(readStateFile(dir)).rejects.toMatchObject({ code: 'ERR_SIM_STATE', message: expect.stringContaining('sim-init') });
  });
});
