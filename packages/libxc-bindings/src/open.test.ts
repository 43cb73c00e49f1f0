/**
 * Opening the hypervisor interface on a machine without Xen (this one, and CI): the
 * HostUnavailable path, errno handling, and proof that libxc's own log line never reaches
 * stderr. The same open on a Xen dom0 is exercised by the real-Xen suite (test/xen/).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { HostUnavailableError } from './errors';
import { koffi } from './native';
import { hostUnavailableFromErrno, openXc } from './xc-interface';

const noXen = !existsSync('/dev/xen/privcmd') && !existsSync('/proc/xen/privcmd');
const itNoXen = noXen ? it : it.skip;

describe('hostUnavailableFromErrno', () => {
  it('names the missing device for ENOENT/ENXIO/ENODEV', () => {
    for (const errno of [2, 6, 19]) {
      const e = hostUnavailableFromErrno(errno, ['xencall: error: x']);
      expect(e).toBeInstanceOf(HostUnavailableError);
      expect(e).toMatchObject({ code: 'ERR_HOST_UNAVAILABLE', syscall: 'xc_interface_open', errno, log: ['xencall: error: x'] });
      expect(e.message).toMatch(/\/dev\/xen\/privcmd is missing/);
    }
  });

  it('says root is needed for EACCES and EPERM', () => {
    expect(hostUnavailableFromErrno(13)).toMatchObject({ errnoCode: 'EACCES' });
    expect(hostUnavailableFromErrno(13).message).toMatch(/permission denied opening \/dev\/xen\/privcmd.*root/);
    expect(hostUnavailableFromErrno(1).message).toMatch(/permission denied/);
  });

  it('keeps any other errno by name', () => {
    const e = hostUnavailableFromErrno(25);
    expect(e.errnoCode).toBe('ENOTTY');
    expect(e.message).toBe('cannot open the Xen hypervisor interface /dev/xen/privcmd: ENOTTY');
  });
});

describe('openXc without a hypervisor', () => {
  itNoXen('fails with HostUnavailableError ENOENT and captures what libxc logged', () => {
    let err: unknown;
    try {
      openXc();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HostUnavailableError);
    const e = err as HostUnavailableError;
    expect(e.code).toBe('ERR_HOST_UNAVAILABLE');
    expect(e.errno).toBe(2);
    expect(e.errnoCode).toBe('ENOENT');
    expect(e.message).toMatch(/\/dev\/xen\/privcmd is missing/);
    // xencall_open's own message, formatted by our JS logger from libxc's printf format + va_list.
    expect(e.log).toEqual(['xencall: error: Could not obtain handle on privileged command interface: ENOENT']);
  });

  itNoXen('unregisters the logger callback after a failed open', () => {
    const before = koffi().stats().callbacks;
    for (let i = 0; i < 50; i++) expect(() => openXc()).toThrow(HostUnavailableError);
    expect(koffi().stats().callbacks).toBe(before);
  });

  describe('in a child process', () => {
    let dir: string;
    let bundle: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'xc-open-'));
      bundle = join(dir, 'libxc.js');
      buildSync({
        entryPoints: [resolve(__dirname, 'index.ts')],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        outfile: bundle,
        external: ['koffi'],
        logLevel: 'silent',
      });
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const run = (script: string) =>
      spawnSync(process.execPath, ['-e', script], {
        encoding: 'utf8',
        env: { ...process.env, NODE_PATH: resolve(__dirname, '../../../node_modules') },
      });

    itNoXen('prints nothing on stderr: libxc logs through our logger', () => {
      const r = run(`
        const x = require(${JSON.stringify(bundle)});
        try { x.openXc(); console.log('opened'); }
        catch (e) { console.log(JSON.stringify({ code: e.code, errno: e.errno, log: e.log })); }
      `);
      expect(r.status).toBe(0);
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({
        code: 'ERR_HOST_UNAVAILABLE',
        errno: 2,
        log: ['xencall: error: Could not obtain handle on privileged command interface: ENOENT'],
      });
    });

    it('loads neither koffi nor libxenctrl until the first open', () => {
      const r = run(`
        const fs = require('fs');
        const state = () => ({
          koffi: Object.keys(require.cache).some((p) => p.includes('/node_modules/koffi/')),
          libxenctrl: fs.readFileSync('/proc/self/maps', 'utf8').includes('libxenctrl.so.4.17'),
        });
        const x = require(${JSON.stringify(bundle)});
        const before = state();
        try { x.openXc({ dummy: true }).close(); } catch (e) { console.error(e.message); }
        console.log(JSON.stringify({ before, after: state() }));
      `);
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({ before: { koffi: false, libxenctrl: false }, after: { koffi: true, libxenctrl: true } });
    });

    itNoXen('control: without a logger libxc writes its line to stderr (what the test above guards against)', () => {
      const r = run(`
        const k = require('koffi');
        const open = k.load('libxenctrl.so.4.17').func('void *xc_interface_open(void *a, void *b, unsigned int f)');
        console.log(open(null, null, 0) === null ? 'null' : 'handle');
      `);
      expect(r.stdout.trim()).toBe('null');
      expect(r.stderr).toBe('xencall: error: Could not obtain handle on privileged command interface: No such file or directory\n');
    });
  });
});
