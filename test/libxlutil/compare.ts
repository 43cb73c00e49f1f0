/**
 * Compares our parsers with the oracle's answer for one input. Returns a description of the
 * difference, or undefined when they agree. The only allowances are the deliberate
 * divergences of docs/compat.md, each named where it is applied.
 */
import { parseConfigBytes } from '../../packages/xentool/src/config/parse-config';
import { ConfigError } from '../../packages/xentool/src/config/config-error';
import { XentoolError } from '../../packages/xentool/src/errors';
import { parseBdf, parsePciSpec, scanBdf } from '../../packages/xentool/src/pci-spec/parse-pci-spec';
import { domainConfigFromFile } from '../../packages/xentool/src/config/domain-config';
import { parseConfig } from '../../packages/xentool/src/config/parse-config';
import type { CfgOut, OracleValue, SpecOut, XlPciOut } from './oracle';
import { asBytes } from './oracle';

function bytesOf(v: unknown): unknown {
  if (typeof v === 'string') return asBytes(v);
  if (Array.isArray(v)) return v.map(bytesOf);
  return v;
}

/** The oracle's settings reduced as `xlu_cfg_get_*` see them: last assignment wins. */
function lastWins(settings: CfgOut['settings']): Record<string, { value: OracleValue; op: string }> {
  const out: Record<string, { value: OracleValue; op: string }> = {};
  for (const s of settings) out[s.name] = { value: s.value, op: s.op };
  return out;
}

export function compareConfig(input: Buffer, want: CfgOut): string | undefined {
  let ours;
  try {
    ours = parseConfigBytes(input, 'SRC');
  } catch (e) {
    if (!(e instanceof ConfigError)) return `threw a non-ConfigError: ${String(e)}`;
    if (want.rc === 0) return `we reject (${e.message}), libxlutil accepts`;
    const m = /^SRC:(\d+):/.exec(want.report);
    if (!m) return `libxlutil rc ${want.rc} without a located message: ${JSON.stringify(want.report)}`;
    const theirs = Number(m[1]);
    // compat.md "error lines": libxlutil names the line before an end-of-line token, and
    // the last token's line at the end of the input; we name the token's own line.
    const ok =
      e.token === '\n' ? theirs === e.line - 1 : e.token === '' ? theirs === e.line || theirs === e.line - 1 : theirs === e.line;
    return ok ? undefined : `error line: ours ${e.line} (token ${JSON.stringify(e.token)}), libxlutil ${theirs}: ${e.message} / ${want.report}`;
  }
  if (want.rc !== 0) return `we accept, libxlutil rejects: ${want.report.split('\n')[0]}`;
  const theirs = lastWins(want.settings);
  const mine: Record<string, { value: OracleValue; op: string }> = {};
  for (const n of ours.names()) {
    const s = ours.get(n)!;
    mine[n] = { value: bytesOf(ours.toPlain()[n]) as OracleValue, op: s.op };
  }
  if (JSON.stringify(mine) !== JSON.stringify(theirs)) return `values: ours ${JSON.stringify(mine)} libxlutil ${JSON.stringify(theirs)}`;
  const ourLines = ours.settings.map((s) => `${s.name}@${s.value.line}`);
  const theirLines = want.settings.map((s) => `${s.name}@${s.line}`);
  if (JSON.stringify(ourLines) !== JSON.stringify(theirLines)) return `setting lines: ours ${ourLines} libxlutil ${theirLines}`;
  return undefined;
}

/**
 * compat.md "BDF without '.'": libxlutil's sscanf succeeds before reaching `%n` and reads it
 * uninitialised, so its answer is undefined; we reject.
 */
export function undefinedInLibxl(spec: string): boolean {
  const vals = [spec, ...spec.split(',').filter((kv) => kv.startsWith('bdf=')).map((kv) => kv.slice(4))];
  return vals.some((v) => {
    const r = scanBdf(v);
    return !r.ok && r.undefinedInLibxl === true;
  });
}

export function compareSpec(spec: string, want: SpecOut, mode: 'spec' | 'bdf'): string | undefined {
  let ours;
  try {
    ours = mode === 'spec' ? parsePciSpec(spec) : parseBdf(spec);
  } catch (e) {
    if (!(e instanceof XentoolError)) return `threw a non-XentoolError: ${String(e)}`;
    if (e.exitCode !== 2) return `exit code ${e.exitCode}, xl exits 2`;
    if (want.rc === 0 && undefinedInLibxl(spec)) return undefined;
    return want.rc === 0 ? `we reject (${e.message}), libxlutil accepts ${JSON.stringify(want.pci)}` : undefined;
  }
  if (want.rc !== 0) return `we accept, libxlutil rejects (rc ${want.rc})`;
  const { warnings: _w, ...fields } = ours as typeof ours & { warnings: string[] };
  const theirs: Record<string, unknown> = { ...want.pci };
  if (mode === 'bdf') {
    for (const k of Object.keys(theirs)) if (!['domain', 'bus', 'dev', 'func', 'vfunc_mask'].includes(k)) delete theirs[k];
  }
  const mine = bytesOf(JSON.stringify(fields, Object.keys(theirs))) as string;
  const exp = JSON.stringify(theirs, Object.keys(theirs));
  return mine === exp ? undefined : `fields: ours ${mine} libxlutil ${exp}`;
}

/** The typed model's `pci` against xl_parse.c's loop (probe mode xlpci). */
export function compareXlPci(text: string, want: XlPciOut): string | undefined {
  if (want.rc !== 0) return `libxlutil rejects the config: ${want.report}`;
  const failing = want.pci.findIndex((p) => p.rc !== 0);
  let model;
  try {
    model = domainConfigFromFile(parseConfig(text, 'SRC'));
  } catch (e) {
    if (!(e instanceof XentoolError)) return `threw a non-XentoolError: ${String(e)}`;
    if (failing < 0) return `we reject (${e.message}), xl accepts`;
    if (!e.message.includes(`pci[${failing}]:`)) return `we blame another entry than pci[${failing}]: ${e.message}`;
    return undefined;
  }
  if (failing >= 0) {
    const spec = model.pci[failing]?.spec ?? '';
    return undefinedInLibxl(spec) ? undefined : `we accept, xl fails on pci[${failing}]`;
  }
  if (model.pci.length !== want.pci.length) return `${model.pci.length} devices, xl ${want.pci.length}`;
  for (let i = 0; i < want.pci.length; i++) {
    const theirs = want.pci[i].pci;
    const mine = bytesOf(JSON.stringify(model.pci[i], Object.keys(theirs))) as string;
    const exp = JSON.stringify(theirs, Object.keys(theirs));
    if (mine !== exp) return `pci[${i}]: ours ${mine} xl ${exp}`;
  }
  if (model.type === 'pv' && want.e820_host !== null && model.e820_host !== want.e820_host) return `e820_host: ours ${model.e820_host} xl ${want.e820_host}`;
  return undefined;
}
