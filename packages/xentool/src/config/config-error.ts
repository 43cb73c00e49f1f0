import { ErrorCodes, XentoolError } from '../errors';

/**
 * A config error at a place in a file. Still an `XentoolError` (callers match on `code`); the
 * extra fields let a caller re-label the place, e.g. `readConfigFile` for lines that came from
 * command-line overrides.
 *
 * `token` is the text the parser stopped at: `'\n'` for an end of line (comments included),
 * `''` for the end of the input. libxlutil reports an error at an end of line one line too
 * early; the differential tests use `token` to allow for that.
 */
export class ConfigError extends XentoolError {
  readonly source: string;
  readonly line: number;
  readonly col: number;
  readonly detail: string;
  readonly token: string | undefined;

  constructor(
    code: string,
    source: string,
    line: number,
    col: number,
    detail: string,
    token?: string,
  ) {
    super(code, oneLine(`${source}:${line}:${col}: ${detail}`), 1);
    this.name = 'ConfigError';
    this.source = source;
    this.line = line;
    this.col = col;
    this.detail = detail;
    this.token = token;
  }
}

/** Messages quote the user's text; control characters are shown escaped to keep them one line. */
export function oneLine(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

export function syntaxError(source: string, line: number, col: number, detail: string, token?: string): ConfigError {
  return new ConfigError(ErrorCodes.ERR_CONFIG_SYNTAX, source, line, col, detail, token);
}

/** xm configs were Python that xend executed; xl (and xentool) accept only the data subset. */
export function pythonError(source: string, line: number, col: number, detail: string, token?: string): ConfigError {
  return new ConfigError(
    ErrorCodes.ERR_CONFIG_PYTHON,
    source,
    line,
    col,
    `${detail}: this looks like Python, which config files may no longer contain (it is never executed; ` +
      'see https://wiki.xen.org/wiki/PythonInXlConfig)',
    token,
  );
}

export function valueError(source: string, line: number, col: number, detail: string): ConfigError {
  return new ConfigError(ErrorCodes.ERR_CONFIG_VALUE, source, line, col, detail);
}
