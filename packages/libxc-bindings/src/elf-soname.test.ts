import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElfSoname } from './elf-soname';
import { LibraryLoadError } from './errors';
import { loadLibxc } from './native';
import { openXc } from './xc-interface';

const REAL = '/usr/lib/x86_64-linux-gnu/libxenctrl.so.4.17.0';

describe('library loading', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'xc-soname-'));
    writeFileSync(join(dir, 'stub.c'), 'int xc_interface_open(void) { return 0; }\n');
    // A stand-in for another Xen release's libxenctrl: same file name pattern, other soname.
    execFileSync('gcc', ['-shared', '-fPIC', '-Wl,-soname,libxenctrl.so.4.16', '-o', join(dir, 'libxenctrl.so.4.17'), join(dir, 'stub.c')]);
    execFileSync('gcc', ['-shared', '-fPIC', '-o', join(dir, 'nosoname.so'), join(dir, 'stub.c')]);
    writeFileSync(join(dir, 'text.so'), 'not an ELF file\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads DT_SONAME from the installed library', () => {
    expect(readElfSoname(REAL)).toBe('libxenctrl.so.4.17');
    expect(readElfSoname(join(dir, 'libxenctrl.so.4.17'))).toBe('libxenctrl.so.4.16');
    expect(readElfSoname(join(dir, 'nosoname.so'))).toBeUndefined();
    expect(() => readElfSoname(join(dir, 'text.so'))).toThrow(/not an ELF/);
  });

  it('refuses a library whose soname is not libxenctrl.so.4.17, whatever the file is called', () => {
    const err = captureError(() => loadLibxc(join(dir, 'libxenctrl.so.4.17')));
    expect(err).toBeInstanceOf(LibraryLoadError);
    expect(err).toMatchObject({ code: 'ERR_LIBXC_VERSION' });
    expect((err as Error).message).toMatch(/soname is libxenctrl\.so\.4\.16, this xentool needs libxenctrl\.so\.4\.17/);
    expect(captureError(() => loadLibxc(join(dir, 'nosoname.so')))).toMatchObject({ code: 'ERR_LIBXC_VERSION' });
    expect(captureError(() => loadLibxc(join(dir, 'text.so')))).toMatchObject({ code: 'ERR_LIBXC_VERSION' });
  });

  it('reports a missing library path as ERR_LIBXC_LOAD', () => {
    const err = captureError(() => openXc({ libraryPath: join(dir, 'absent.so') }));
    expect(err).toMatchObject({ code: 'ERR_LIBXC_LOAD', libraryPath: join(dir, 'absent.so') });
  });

  it('loads an overridden path that carries the right soname', () => {
    const xc = openXc({ libraryPath: REAL, dummy: true });
    expect(xc.dummy).toBe(true);
    xc.close();
    expect(xc.closed).toBe(true);
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}
