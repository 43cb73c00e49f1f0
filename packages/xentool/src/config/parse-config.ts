/**
 * The xl domain-config language, parsed as libxlutil 4.17 parses it (libxlu_cfg_l.l,
 * libxlu_cfg_y.y, libxlu_cfg.c). The real library is the oracle: test/libxlutil/ compares this
 * parser with it on a corpus. Deliberate divergences are listed in docs/compat.md.
 *
 * The lexer works on bytes (a Latin-1 string, one char per byte), as flex does, so that column
 * numbers, the "bad byte at the very end of the input" quirk and multi-byte characters behave
 * as in libxlutil; atom texts are decoded back from UTF-8 at the end.
 *
 * Public API:
 * - `parseConfig(text, source)`: the raw settings (name, op, value, line, col), `+=` applied.
 * - `parseConfigBytes(bytes, source)`: the same from the file's bytes.
 * - `ConfigFile.get(name)`: the last assignment wins, as `xlu_cfg_get_*` do.
 */
import { pythonError, syntaxError } from './config-error';

export interface ConfigAtom {
  kind: 'atom';
  /** Exactly the text libxlutil stores: numbers as written, strings with escapes applied. */
  text: string;
  /** Written as a quoted string (libxlutil does not distinguish; the text dump does). */
  quoted: boolean;
  line: number;
  col: number;
}

export interface ConfigList {
  kind: 'list';
  items: ConfigValue[];
  line: number;
  col: number;
}

export type ConfigValue = ConfigAtom | ConfigList;

export interface ConfigSetting {
  name: string;
  op: '=' | '+=';
  /** After `+=`: the previous value of the same name with this one appended. */
  value: ConfigValue;
  line: number;
  col: number;
}

/** A value as JSON: an atom is its text, a list an array. */
export type PlainValue = string | PlainValue[];

export class ConfigFile {
  readonly source: string;
  /** In file order, every assignment (a later one shadows an earlier one of the same name). */
  readonly settings: readonly ConfigSetting[];

  constructor(source: string, settings: readonly ConfigSetting[]) {
    this.source = source;
    this.settings = settings;
  }

  /** The last assignment of `name`, as `xlu_cfg_get_*` find it. */
  get(name: string): ConfigSetting | undefined {
    for (let i = this.settings.length - 1; i >= 0; i--) {
      if (this.settings[i].name === name) return this.settings[i];
    }
    return undefined;
  }

  /** Distinct names in the order of their first assignment. */
  names(): string[] {
    return [...new Set(this.settings.map((s) => s.name))];
  }

  /** key → value (last assignment wins), keys in order of first assignment. */
  toPlain(): Record<string, PlainValue> {
    const out: Record<string, PlainValue> = {};
    for (const name of this.names()) out[name] = plainValue(this.get(name)!.value);
    return out;
  }
}

export function plainValue(v: ConfigValue): PlainValue {
  return v.kind === 'atom' ? v.text : v.items.map(plainValue);
}

type TokType = 'IDENT' | 'NUMBER' | 'STRING' | 'NEWLINE' | ',' | '[' | ']' | '=' | '+=' | ';' | 'EOF';

interface Token {
  type: TokType;
  /** Raw bytes of the token (Latin-1 string). */
  raw: string;
  /** STRING: the dequoted bytes. */
  value?: string;
  line: number;
  col: number;
}

// libxlutil's `likely_python` bytes, plus the other Python operators and braces.
const PYTHON_CHARS = '+-.():*/%{}';
const PYTHON_WORDS = /^(import|from|if|elif|else|for|while|def|class|return|try|except|with|lambda|print|del|global|exec|assert|pass)$/;

const IDENT_RE = /[a-z][._0-9a-z]*/y;
const NUMBER_RE = /[0-9][0-9a-fx]*/y;
const COMMENT_RE = /#[^\n]*\n/y;
const SQ_RE = /'(?:[^'\\\n]|\\[^\n])*'/y;
const DQ_RE = /"(?:[^"\\\n]|\\[^\n])*"/y;
const LEXERR_RUN_RE = /[^ \t\n]*/y;

function describe(t: Token): string {
  switch (t.type) {
    case 'EOF':
      return 'end of file';
    case 'NEWLINE':
      return t.raw.startsWith('#') ? 'end of line (after a comment)' : 'end of line';
    case 'IDENT':
      return `name \`${latin1ToUtf8(t.raw)}'`;
    case 'NUMBER':
      return `number \`${t.raw}'`;
    case 'STRING':
      return `string ${latin1ToUtf8(t.raw)}`;
    default:
      return `\`${t.raw}'`;
  }
}

/** `ConfigError.token`: '\n' for any end of line, '' for the end of the input. */
function tokenText(t: Token): string {
  return t.type === 'EOF' ? '' : t.type === 'NEWLINE' ? '\n' : latin1ToUtf8(t.raw);
}

function latin1ToUtf8(s: string): string {
  return /[\x80-\xff]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;

  constructor(
    private readonly s: string,
    private readonly source: string,
  ) {}

  /** The bytes after the last token up to the end of its line. */
  restOfLine(): string {
    const nl = this.s.indexOf('\n', this.pos);
    return this.s.slice(this.pos, nl < 0 ? this.s.length : nl);
  }

  private col(at: number): number {
    return at - this.lineStart + 1;
  }

  next(): Token {
    const s = this.s;
    while (this.pos < s.length && (s[this.pos] === ' ' || s[this.pos] === '\t')) this.pos++;
    const start = this.pos;
    const line = this.line;
    const col = this.col(start);
    if (start >= s.length) return { type: 'EOF', raw: '', line, col };
    const c = s[start];
    const tok = (type: TokType, len: number): Token => {
      this.pos = start + len;
      return { type, raw: s.slice(start, start + len), line, col };
    };
    if (c >= 'a' && c <= 'z') return tok('IDENT', match(IDENT_RE, s, start));
    if (c >= '0' && c <= '9') return tok('NUMBER', match(NUMBER_RE, s, start));
    if (c === ',' || c === '[' || c === ']' || c === ';' || c === '=') return tok(c, 1);
    if (c === '+' && s[start + 1] === '=') return tok('+=', 2);
    if (c === '\n' || c === '#') {
      const len = c === '\n' ? 1 : match(COMMENT_RE, s, start);
      if (len > 0) {
        const t = tok('NEWLINE', len);
        this.line++;
        this.lineStart = this.pos;
        return t;
      }
    }
    if (c === "'" || c === '"') {
      const len = match(c === "'" ? SQ_RE : DQ_RE, s, start);
      if (len > 0) {
        const t = tok('STRING', len);
        t.value = this.dequote(t);
        return t;
      }
    }
    return this.badByte(start, line, col);
  }

  /**
   * libxlutil's lexer enters an error state on a byte no rule matches and reports it together
   * with the rest of the word. Found with the probe: when that byte is the last byte of the
   * input, flex reaches EOF inside the error state and reports nothing, so `memory=512$` with no
   * final newline is accepted as `512`. We keep that (docs/compat.md).
   */
  private badByte(start: number, line: number, col: number): Token {
    const s = this.s;
    if (start === s.length - 1) {
      this.pos = s.length;
      return { type: 'EOF', raw: '', line, col: col + 1 };
    }
    const run = match(LEXERR_RUN_RE, s, start + 1);
    const text = latin1ToUtf8(s.slice(start, start + 1 + run));
    // libxlutil flags these bytes as `likely_python` and adds its "Arbitrary Python is no
    // longer supported" warning to the error.
    if (PYTHON_CHARS.includes(s[start])) throw pythonError(this.source, line, col, `lexical error near \`${text}'`, text);
    const what = s[start] === '\r' ? 'carriage return (DOS line ending)' : `\`${text}'`;
    throw syntaxError(this.source, line, col, `lexical error near ${what}`, text);
  }

  /** libxlu_cfg.c `xlu__cfgl_dequote`, including its escape bugs (see docs/compat.md). */
  private dequote(t: Token): string {
    const src = t.raw;
    const end = src.length - 1;
    let out = '';
    let p = 1;
    const fail = (at: number, detail: string): never => {
      throw syntaxError(this.source, t.line, t.col + at, `${detail} in quoted string ${latin1ToUtf8(src)}`, src);
    };
    if (src.includes('\0')) {
      // libxlutil measures the token with strlen() and then asserts on it: a NUL byte inside
      // quotes aborts xl. We refuse it instead.
      fail(src.indexOf('\0'), 'NUL byte');
    }
    while (p < end) {
      const c = src[p++];
      if (c !== '\\') {
        out += c;
        continue;
      }
      const at = p - 1;
      const nc = src[p++];
      const simple: Record<string, string> = {
        '"': '"', "'": "'", '\\': '\\', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
      };
      if (nc in simple) {
        out += simple[nc];
      } else if (nc === 'x') {
        // libxlutil skips one more byte and then demands more than 2 digits from a 2-byte
        // buffer, so every \x escape fails.
        fail(at, 'invalid \\x escape (libxlutil rejects every hex escape)');
      } else if (nc >= '0' && nc <= '7') {
        // The octal branch parses the (up to) 3 bytes *after* the first digit with strtoul in
        // base 10, needs at least 2 of them consumed, and stores nothing: `\101x` → `x`.
        const used = strtoulDecimalLength(src.slice(p, Math.min(p + 3, src.length)));
        if (used <= 1) fail(at, 'invalid octal escape');
        p += used;
      } else {
        fail(at, `invalid character after backslash \`${latin1ToUtf8(nc)}'`);
      }
    }
    return out;
  }
}

/** How many bytes C `strtoul(s, &ep, 10)` consumes: 0 when it finds no digits. */
function strtoulDecimalLength(s: string): number {
  let i = 0;
  while (i < s.length && ' \t\n\v\f\r'.includes(s[i])) i++;
  if (s[i] === '+' || s[i] === '-') i++;
  const digitsStart = i;
  while (i < s.length && s[i] >= '0' && s[i] <= '9') i++;
  return i === digitsStart ? 0 : i;
}

function match(re: RegExp, s: string, at: number): number {
  re.lastIndex = at;
  const m = re.exec(s);
  return m ? m[0].length : 0;
}

class Parser {
  private tok: Token;
  private readonly settings: ConfigSetting[] = [];
  private readonly lex: Lexer;

  constructor(
    bytes: string,
    private readonly source: string,
  ) {
    this.lex = new Lexer(bytes, source);
    this.tok = this.lex.next();
  }

  /** The last token consumed. */
  private prev: Token | undefined;

  private advance(): Token {
    const t = this.tok;
    this.prev = t;
    this.tok = this.lex.next();
    return t;
  }

  private unexpected(expected: string): never {
    const t = this.tok;
    // `kernel = os.path.join(...)`: a name followed by '(' is a call. libxlutil reaches the
    // '(' while recovering and flags likely_python; we stop at the name, so look ahead.
    if (t.type === 'IDENT' && /^[ \t]*\(/.test(this.lex.restOfLine())) {
      throw pythonError(this.source, t.line, t.col, `function call \`${latin1ToUtf8(t.raw)}(...)'`, tokenText(t));
    }
    throw syntaxError(this.source, t.line, t.col, `syntax error: unexpected ${describe(t)}, expecting ${expected}`, tokenText(t));
  }

  parseFile(): ConfigSetting[] {
    for (;;) {
      const t = this.tok;
      if (t.type === 'EOF') return this.settings;
      if (t.type === 'NEWLINE' || t.type === ';') {
        this.advance();
        continue;
      }
      if (t.type !== 'IDENT') this.unexpected('a setting (name = value)');
      this.assignment();
      const end = this.tok.type;
      if (end === 'NEWLINE' || end === ';') this.advance();
      else if (end !== 'EOF') this.unexpected("end of line or `;' after the value");
    }
  }

  private assignment(): void {
    const name = this.advance();
    const opTok = this.tok;
    if (opTok.type !== '=' && opTok.type !== '+=') {
      // `import os`, `if x`, `del y`: a statement keyword where a setting name should be.
      if (PYTHON_WORDS.test(name.raw)) {
        const found = opTok.type === 'IDENT' || opTok.type === 'NUMBER' ? `${name.raw} ${opTok.raw}` : name.raw;
        throw pythonError(this.source, name.line, name.col, `syntax error near \`${found}'`, tokenText(opTok));
      }
      this.unexpected("`=' or `+='");
    }
    this.advance();
    let value = this.value();
    const op = opTok.type as '=' | '+=';
    if (op === '+=') {
      const prev = this.findLast(name.raw);
      if (prev) value = this.concat(prev.value, value, name.raw, this.prev!);
    }
    this.settings.push({ name: name.raw, op, value, line: name.line, col: name.col });
  }

  private findLast(name: string): ConfigSetting | undefined {
    for (let i = this.settings.length - 1; i >= 0; i--) if (this.settings[i].name === name) return this.settings[i];
    return undefined;
  }

  /** `end`: the value's last token; libxlutil reports the mismatch there (at reduction time). */
  private concat(prev: ConfigValue, add: ConfigValue, name: string, end: Token): ConfigValue {
    if (prev.kind !== add.kind) {
      throw syntaxError(
        this.source,
        end.line,
        end.col,
        `can't add ${add.kind === 'list' ? '[list]' : '"string"'} to ${prev.kind === 'list' ? '[list]' : '"string"'} with += (\`${name}')`,
      );
    }
    if (prev.kind === 'atom' && add.kind === 'atom') {
      return { ...add, text: prev.text + add.text, quoted: prev.quoted || add.quoted };
    }
    return { ...(add as ConfigList), items: [...(prev as ConfigList).items, ...(add as ConfigList).items] };
  }

  /** A method, not a field read, so that TypeScript does not narrow across advance(). */
  private peek(): TokType {
    return this.tok.type;
  }

  private skipNewlines(): void {
    while (this.tok.type === 'NEWLINE') this.advance();
  }

  private value(): ConfigValue {
    const t = this.tok;
    if (t.type === 'STRING' || t.type === 'NUMBER') {
      this.advance();
      return {
        kind: 'atom',
        text: t.type === 'STRING' ? t.value! : t.raw,
        quoted: t.type === 'STRING',
        line: t.line,
        col: t.col,
      };
    }
    if (t.type !== '[') this.unexpected('a value (string, number or [list])');
    this.advance();
    const items: ConfigValue[] = [];
    this.skipNewlines();
    if (this.peek() !== ']') {
      for (;;) {
        items.push(this.value());
        this.skipNewlines();
        if (this.peek() === ']') break;
        if (this.peek() !== ',') this.unexpected("`,' or `]'");
        this.advance();
        this.skipNewlines();
        if (this.peek() === ']') break;
      }
    }
    this.advance();
    return { kind: 'list', items, line: t.line, col: t.col };
  }
}

function decodeValue(v: ConfigValue): ConfigValue {
  if (v.kind === 'atom') return /[\x80-\xff]/.test(v.text) ? { ...v, text: latin1ToUtf8(v.text) } : v;
  return { ...v, items: v.items.map(decodeValue) };
}

/** Parses config bytes as libxlutil would; throws `ConfigError` (an `XentoolError`). */
export function parseConfigBytes(bytes: Uint8Array, source: string): ConfigFile {
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const settings = new Parser(s, source).parseFile();
  return new ConfigFile(
    source,
    settings.map((st) => ({ ...st, value: decodeValue(st.value) })),
  );
}

/** Parses config text as libxlutil would; throws `ConfigError` (an `XentoolError`). */
export function parseConfig(text: string, source: string): ConfigFile {
  return parseConfigBytes(Buffer.from(text, 'utf8'), source);
}
