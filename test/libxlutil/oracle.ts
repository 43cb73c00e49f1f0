/**
 * The real libxlutil 4.17 as a test oracle: compiles probe.c with gcc into a temporary
 * directory (once per test file) and feeds it batches of inputs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LIBXLUTIL_HEADER = '/usr/include/libxlutil.h';

/** Why the oracle cannot run here, or undefined when it can. */
export function oracleUnavailable(): string | undefined {
  if (!existsSync(LIBXLUTIL_HEADER)) {
    return `${LIBXLUTIL_HEADER} is absent (install Debian's libxen-dev): differential tests against libxlutil skipped`;
  }
  return undefined;
}

export interface CfgSettingOut {
  name: string;
  op: '=' | '+=';
  line: number;
  value: OracleValue;
}
export type OracleValue = string | OracleValue[];

export interface CfgOut {
  rc: number;
  settings: CfgSettingOut[];
  report: string;
}

export interface PciOut {
  domain: number;
  bus: number;
  dev: number;
  func: number;
  vdevfn: number;
  vfunc_mask: number;
  msitranslate: boolean;
  power_mgmt: boolean;
  permissive: boolean;
  seize: boolean;
  rdm_policy: string;
  name: string | null;
}

export interface SpecOut {
  rc: number;
  pci: PciOut;
  report: string;
}

export interface XlPciOut {
  rc: number;
  pci: { rc: number; pci: PciOut }[];
  /** A PV guest's e820_host after xl_parse.c and libxl's default; null when xl would exit. */
  e820_host: boolean | null;
  report: string;
}

export class Oracle {
  private readonly dir: string;
  readonly bin: string;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'xentool-libxlutil-'));
    this.bin = join(this.dir, 'probe');
    // Fails the test run loudly if libxen-dev is present but the probe does not build or link.
    execFileSync('gcc', ['-O2', '-Wall', '-o', this.bin, join(__dirname, 'probe.c'), '-lxlutil', '-lxenlight'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs one batch; inputs are UTF-8 encoded, outputs come back as Latin-1 byte strings. */
  private run<T>(mode: 'cfg' | 'spec' | 'bdf' | 'xlpci', inputs: (string | Buffer)[]): T[] {
    const parts: Buffer[] = [];
    for (const inp of inputs) {
      const b = typeof inp === 'string' ? Buffer.from(inp, 'utf8') : inp;
      parts.push(Buffer.from(`${b.length}\n`), b);
    }
    const r = spawnSync(this.bin, [mode], { input: Buffer.concat(parts), maxBuffer: 256 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`probe ${mode} exited ${r.status} ${r.signal ?? ''}: ${r.stderr.toString()}`);
    const lines = r.stdout.toString('latin1').split('\n').filter(Boolean);
    if (lines.length !== inputs.length) throw new Error(`probe ${mode}: ${lines.length} results for ${inputs.length} inputs`);
    return lines.map((l) => JSON.parse(l) as T);
  }

  cfg(inputs: (string | Buffer)[]): CfgOut[] {
    return this.run<CfgOut>('cfg', inputs);
  }

  spec(inputs: string[]): SpecOut[] {
    return this.run<SpecOut>('spec', inputs);
  }

  /** xl_parse.c's reading of `pci=`: each device with the global defaults applied. */
  xlpci(inputs: string[]): XlPciOut[] {
    return this.run<XlPciOut>('xlpci', inputs);
  }

  bdf(inputs: string[]): SpecOut[] {
    return this.run<SpecOut>('bdf', inputs);
  }
}

/** Our strings are decoded UTF-8; the probe prints bytes as Latin-1. Compare as bytes. */
export function asBytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}
