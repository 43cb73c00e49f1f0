import { constants as fsc, promises as fs } from 'node:fs';

/** Whether `file` is a regular file this process can read (what the builder will open). */
export async function readableFile(file: string): Promise<boolean> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) return false;
    await fs.access(file, fsc.R_OK);
    return true;
  } catch {
    return false;
  }
}
