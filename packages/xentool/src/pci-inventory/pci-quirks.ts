/**
 * The quirks table the PCI commands assess devices with: @xentool/pciback's built-in entries
 * followed by the operator's own (the file config.ts names; absent unless an operator made one).
 * A malformed file stops the command with pciback's one-line `FILE:LINE:COL: ...` error (exit 1):
 * assessing devices without the operator's warnings would hide what the file is there to say.
 */
import { readFileSync } from 'node:fs';
import { KNOWN_QUIRKS, PcibackError, PcibackErrorCodes, parseQuirksFile, type QuirkEntry } from '@xentool/pciback';
import { pciQuirksFile } from '../config';
import type { CommandContext } from '../context';

export function loadPciQuirks(ctx: Pick<CommandContext, 'env' | 'cwd'>): QuirkEntry[] {
  const { path, explicit } = pciQuirksFile(ctx.env, ctx.cwd);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return [...KNOWN_QUIRKS];
    throw new PcibackError(PcibackErrorCodes.ERR_QUIRKS_FILE, `${path}: cannot read the PCI quirks file (${code ?? (e as Error).message})`);
  }
  return [...KNOWN_QUIRKS, ...parseQuirksFile(text, path)];
}
