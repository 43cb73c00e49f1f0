/**
 * Issue 7, scenario 1: `xentool info` and `xentool list`, run in dom0 with the host's node (from
 * the built tree on the project share, or a bundle of it: suite.ts xentoolCommand), agree with
 * `xl info` and `xl list` on the same hypervisor.
 */
import { pvGuestConfig, waitForGuestPci, writeGuestConfig } from './guests';
import { saveTranscript, suiteVm, xentoolCommand, xentoolMode } from './suite';
import type { XenVm } from './xen-vm';

/**
 * xl info fields that change between two calls a second apart (memory the hypervisor scrubs or
 * hands out, dom0's own CPU time does not appear here); every other line must match byte for byte.
 */
const VOLATILE_INFO = new Set(['free_memory', 'sharing_freed_memory', 'sharing_used_memory', 'outstanding_claims']);

function infoLines(text: string): string[] {
  return text.split('\n').filter((l) => !VOLATILE_INFO.has(l.split(/\s*:/)[0]));
}

/**
 * xl list rows without what moves between two calls: the Time(s) column, and the r (running) and
 * b (blocked) state flags, which flip as the guest's init polls and as dom0 runs the tools.
 */
function listRows(text: string): string[] {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => l.replace(/\s+\S+$/, '').replace(/[-r][-b]([-p][-s][-c][-d])$/, '..$1'));
}

let vm: XenVm;
let XENTOOL: string;
beforeAll(() => {
  vm = suiteVm();
  XENTOOL = xentoolCommand(vm);
  process.stderr.write(`test/xen: scenario 1 runs xentool as: ${XENTOOL}\n`);
});

describe('scenario 1: xentool info / list against xl on real Xen', () => {
  beforeAll(() => {
    if (xentoolMode() === 'tree' && process.env.XENVM_TREE_BUILT === '0') {
      throw new Error('XENVM_XENTOOL=tree but `npx tsc -b packages/xentool` failed before the suite: dist/ is stale');
    }
  });

  test('xentool info prints what xl info prints', async () => {
    const xl = await vm.execOk('xl info');
    const xt = await vm.exec(`${XENTOOL} info`);
    saveTranscript('xentool/xentool-info.stdout.txt', xt.stdout);
    saveTranscript('xentool/xentool-info.stderr.txt', xt.stderr);
    expect({ code: xt.code, stderr: xt.stderr }).toEqual({ code: 0, stderr: '' });
    expect(infoLines(xt.stdout)).toEqual(infoLines(xl.stdout));
  });

  test('xentool info NAME prints the value xl info NAME prints', async () => {
    const xl = await vm.execOk('xl info virt_caps');
    const xt = await vm.execOk(`${XENTOOL} info virt_caps`);
    expect(xt.stdout).toBe(xl.stdout);
    expect(xt.stdout).toContain('pv_directio');
  });

  test('xentool list prints what xl list prints (Time(s) aside)', async () => {
    const xl = await vm.execOk('xl list');
    const xt = await vm.exec(`${XENTOOL} list`);
    saveTranscript('xentool/xentool-list.stdout.txt', xt.stdout);
    expect({ code: xt.code, stderr: xt.stderr }).toEqual({ code: 0, stderr: '' });
    expect(listRows(xt.stdout)).toEqual(listRows(xl.stdout));
    expect(xt.stdout).toMatch(/^Domain-0\s+0\s/m);
  });

  test('with a PV guest running: xentool list and xentool list NAME agree with xl', async () => {
    const cfg = writeGuestConfig(vm, 'lst', pvGuestConfig('lst', { passthrough: false, memoryMiB: 96 }));
    try {
      await vm.execOk(`xl create ${cfg}`, { timeoutS: 180 });
      await waitForGuestPci(vm, 'lst', () => true, 0, 180_000);
      const xl = await vm.execOk('xl list');
      const xt = await vm.execOk(`${XENTOOL} list`);
      saveTranscript('xentool/xentool-list-with-guest.stdout.txt', xt.stdout);
      expect(listRows(xt.stdout)).toEqual(listRows(xl.stdout));
      expect(xt.stdout).toMatch(/^lst\s+\d+\s+96\s+1\s/m);
      const one = await vm.execOk(`${XENTOOL} list lst`);
      const oneXl = await vm.execOk('xl list lst');
      expect(listRows(one.stdout)).toEqual(listRows(oneXl.stdout));
    } finally {
      await vm.exec('xl destroy lst');
    }
  });

  test('xentool list of an unknown domain fails like xl does', async () => {
    const xl = await vm.exec('xl list nosuchdomain');
    const xt = await vm.exec(`${XENTOOL} list nosuchdomain`);
    expect(xl.code).not.toBe(0);
    expect(xt.code).toBe(xl.code);
    expect(xt.stderr.trim().split('\n')).toHaveLength(1);
  });
});
