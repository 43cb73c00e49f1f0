/**
 * The canonical text form of a parsed config (what `xentool config-dump` prints without
 * --json): one `key = value` line per key, in order of first assignment, holding the value that
 * wins. Numbers are written bare, strings in double quotes, lists in brackets. The output is
 * itself a config that libxlutil parses to the same values, so it only uses escapes libxlutil
 * handles correctly (`\\ \" \n \r \t \a \b \f \v`; its \x and octal escapes are broken).
 */
import type { ConfigFile, ConfigValue } from './parse-config';

const NUMBER_RE = /^[0-9][0-9a-fx]*$/;
const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\v': '\\v',
};

export function formatValue(v: ConfigValue): string {
  if (v.kind === 'list') return v.items.length === 0 ? '[]' : `[ ${v.items.map(formatValue).join(', ')} ]`;
  if (!v.quoted && NUMBER_RE.test(v.text)) return v.text;
  return `"${v.text.replace(/[\\"\n\r\t\x07\b\f\v]/g, (c) => ESCAPES[c])}"`;
}

export function formatConfigText(cfg: ConfigFile): string {
  return cfg
    .names()
    .map((n) => `${n} = ${formatValue(cfg.get(n)!.value)}\n`)
    .join('');
}
