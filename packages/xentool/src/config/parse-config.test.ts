import { ConfigError } from './config-error';
import { parseConfig, parseConfigBytes } from './parse-config';
import { ErrorCodes, XentoolError } from '../errors';

function fails(text: string): ConfigError {
  try {
    parseConfig(text, 'vm.cfg');
  } catch (e) {
    expect(e).toBeInstanceOf(XentoolError);
    return e as ConfigError;
  }
  throw new Error(`accepted: ${JSON.stringify(text)}`);
}

describe('parseConfig', () => {
  it('keeps numbers as their text and applies the last assignment', () => {
    const cfg = parseConfig('memory = 010\nmemory = 0x200\nname="a" ; name = \'b\'\n', 'vm.cfg');
    expect(cfg.get('memory')!.value).toMatchObject({ kind: 'atom', text: '0x200', quoted: false, line: 2, col: 10 });
    expect(cfg.toPlain()).toEqual({ memory: '0x200', name: 'b' });
    expect(cfg.settings.map((s) => `${s.name}:${s.line}:${s.col}`)).toEqual(['memory:1:1', 'memory:2:1', 'name:3:1', 'name:3:12']);
  });

  it('parses nested, multi-line lists with comments and trailing commas', () => {
    const cfg = parseConfig("pci = [ '01:00.0', # gpu\n\n  '01:00.1',\n  [ 1, [] ],\n]\n", 'vm.cfg');
    expect(cfg.toPlain()).toEqual({ pci: ['01:00.0', '01:00.1', ['1', []]] });
  });

  it('applies += to strings and lists, and refuses to mix them', () => {
    const cfg = parseConfig("extra='a'\nextra += ' quiet'\npci=['1']\npci+=['2']\nm = 5\nm += 12\n", 'vm.cfg');
    expect(cfg.toPlain()).toEqual({ extra: 'a quiet', pci: ['1', '2'], m: '512' });
    expect(cfg.get('m')!.op).toBe('+=');
    const e = fails("pci=['1']\npci += '2'\n");
    expect(e.code).toBe(ErrorCodes.ERR_CONFIG_SYNTAX);
    expect(e.message).toBe("vm.cfg:2:8: can't add \"string\" to [list] with += (`pci')");
  });

  it('applies escapes as libxlutil does, octal ones vanishing', () => {
    const cfg = parseConfig('a = "t\\tq\\"\\\\"\nb = \'x\\101y\'\n', 'vm.cfg');
    expect(cfg.toPlain()).toEqual({ a: 't\tq"\\', b: 'xy' });
    expect(fails('a = "\\x41"\n').message).toMatch(/^vm\.cfg:1:6: invalid \\x escape/);
    expect(fails('a = "\\q"\n').message).toMatch(/^vm\.cfg:1:6: invalid character after backslash/);
  });

  it('reports errors as one line FILE:LINE:COL: what', () => {
    expect(fails('name = "a"\nmemory = \n').message).toBe(
      'vm.cfg:2:10: syntax error: unexpected end of line, expecting a value (string, number or [list])',
    );
    expect(fails('Name = 1\n').message).toBe("vm.cfg:1:1: lexical error near `Name'");
    expect(fails('a = 1\r\n').message).toBe('vm.cfg:1:6: lexical error near carriage return (DOS line ending)');
    expect(fails('a = [1 2]\n').message).toBe("vm.cfg:1:8: syntax error: unexpected number `2', expecting `,' or `]'");
    expect(fails('a = 1 # no newline').message).toBe("vm.cfg:1:7: lexical error near `#'");
  });

  it('rejects Python with its own code and never evaluates it', () => {
    for (const [text, where] of [
      ['import os\n', 'vm.cfg:1:1'],
      ['memory = 512 * 2\n', 'vm.cfg:1:14'],
      ["kernel = os.path.join('a')\n", 'vm.cfg:1:10'],
      ['if x:\n', 'vm.cfg:1:1'],
      ['memory = -1\n', 'vm.cfg:1:10'],
    ]) {
      const e = fails(text);
      expect(e.code).toBe(ErrorCodes.ERR_CONFIG_PYTHON);
      expect(e.message.startsWith(`${where}: `)).toBe(true);
      expect(e.message).toMatch(/looks like Python/);
    }
  });

  it('keeps libxlutil quirks: a bad last byte is dropped, a comment needs its newline', () => {
    expect(parseConfig('memory = 512$', 'vm.cfg').toPlain()).toEqual({ memory: '512' });
    expect(parseConfig('memory = 0x4F', 'vm.cfg').toPlain()).toEqual({ memory: '0x4' });
    expect(() => parseConfig('memory = 0x4F\n', 'vm.cfg')).toThrow(/lexical error near `F'/);
  });

  it('decodes UTF-8 in strings and counts columns in bytes', () => {
    const cfg = parseConfigBytes(Buffer.from("a = 'é' ; b = 1\n", 'utf8'), 'u.cfg');
    expect(cfg.toPlain()).toEqual({ a: 'é', b: '1' });
    expect(cfg.get('b')!.col).toBe(12);
  });

  it('accepts unknown keys and empty input', () => {
    expect(parseConfig('', 'e.cfg').settings).toEqual([]);
    expect(parseConfig('x.y_1 = 1\n', 'e.cfg').names()).toEqual(['x.y_1']);
  });
});
