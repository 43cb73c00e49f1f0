/**
 * Issue 8 on real Xen: xentool is SIGKILLed in the middle of a PV attach and of a PV detach (the
 * test-only XENTOOL_TEST_KILL_AT_STEP hook), then `xentool pci-recover` runs; afterwards the
 * guest (its own console report), xenstore and `xl pci-list` agree, and `xentool pci-audit` is
 * clean. The attach is killed as its last step (the backend record) is about to start, when Xen
 * has already assigned the device and granted its resources, so recovery must roll all of that
 * back; the detach is killed after the guest has let go, so recovery finishes it.
 */
import { lastReportNumber, pvGuestConfig, waitForGuestPci, writeGuestConfig } from './guests';
import { saveTranscript, suiteVm, xentoolCommand } from './suite';
import type { XenVm } from './xen-vm';

const GUEST = 'pvcrash';
// The edu: its arrival in a PV guest shows on the guest's report without a driver, and 00:04.0
// stays free for the HVM file.
const BDF = '0000:00:05.0';
/** pci-attach/-detach waits: a PV guest under TCG on a busy host takes longer than libxl's 10 s. */
const WAIT = '--timeout 300';
const T = 1_800_000;

let vm: XenVm;
let XT: string;
beforeAll(() => {
  vm = suiteVm();
  XT = xentoolCommand(vm);
});

afterAll(async () => {
  if (!vm) return;
  await vm.exec(`xl destroy ${GUEST} 2>/dev/null; ${XT} pci-recover >/dev/null 2>&1; ${XT} pci-assignable-remove ${BDF} 2>/dev/null; true`, { timeoutS: 900 });
}, T);

/** The plan's step lines from --dry-run, numbered from 0. */
async function planSteps(cmd: string): Promise<string[]> {
  const r = await vm.execOk(`${XT} -N ${cmd}`, { timeoutS: 900 });
  return r.stdout.split('\n').filter((l) => /^\s+\d+\. /.test(l));
}

async function agreement(): Promise<{ xlPciList: string; backend: string; libxl: string; audit: { code: number; stdout: string } }> {
  const xl = await vm.execOk(`xl pci-list ${GUEST}`, { timeoutS: 900 });
  const be = await vm.exec(`xenstore-ls -f /local/domain/0/backend/pci/$(xl domid ${GUEST}) 2>/dev/null; true`, { timeoutS: 900 });
  const libxl = await vm.exec(`xenstore-read /libxl/pci/0000-00-05-0/domid 2>&1; true`, { timeoutS: 900 });
  const audit = await vm.exec(`${XT} pci-audit`, { timeoutS: 900 });
  return { xlPciList: xl.stdout, backend: be.stdout, libxl: libxl.stdout.trim(), audit: { code: audit.code, stdout: audit.stdout } };
}

describe('SIGKILL mid-operation on real Xen, then pci-recover', () => {
  test('setup: the e1000 assignable, a PV guest running', async () => {
    await vm.execOk(`${XT} pci-assignable-add ${BDF}`, { timeoutS: 900 });
    const cfg = writeGuestConfig(vm, GUEST, pvGuestConfig(GUEST));
    await vm.execOk(`xl create ${cfg}`, { timeoutS: 900 });
    const first = await waitForGuestPci(vm, GUEST, () => true, 0, 600_000);
    expect(first.devices).toEqual([]);
  }, T);

  test('attach killed as its last step starts: recovery rolls back, the guest never sees the device', async () => {
    const steps = await planSteps(`pci-attach ${GUEST} ${BDF}`);
    expect(steps[steps.length - 1]).toMatch(/PCI backend/);
    const k = steps.length - 1;
    const killed = await vm.exec(`XENTOOL_TEST_KILL_AT_STEP=${k} ${XT} pci-attach ${WAIT} ${GUEST} ${BDF}`, { timeoutS: 900 });
    saveTranscript('recovery/attach-killed.txt', JSON.stringify(killed, null, 1));
    expect(killed.code).toBe(137);
    // The record, in both places.
    const files = await vm.execOk('ls /var/lib/xentool/intents/');
    expect(files.stdout.trim()).toMatch(/\.json$/);
    expect((await vm.execOk('xenstore-list /xentool/intents')).stdout.trim()).not.toBe('');
    // Until recovered, xentool refuses to touch the device.
    const refused = await vm.exec(`${XT} pci-attach ${WAIT} ${GUEST} ${BDF}`, { timeoutS: 900 });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/unfinished operation .*run 'xentool pci-recover' first/);

    const rec = await vm.exec(`${XT} pci-recover`, { timeoutS: 900 });
    saveTranscript('recovery/attach-recover.txt', rec.stdout + rec.stderr);
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/^pci-attach .*: rolled back, because /);
    const a = await agreement();
    expect(a).toEqual({ xlPciList: '', backend: '', libxl: expect.stringMatching(/couldn't read path|not exist|ENOENT/i), audit: { code: 0, stdout: expect.stringMatching(/^pci-audit: clean /) } });
    expect((await vm.execOk(`xl pci-assignable-list`, { timeoutS: 900 })).stdout.split('\n')).toContain(`${BDF} `);
    expect((await vm.execOk('ls /var/lib/xentool/intents/ | wc -l')).stdout.trim()).toBe('0');
  }, T);

  test('detach killed after the guest let go: recovery finishes it; guest, xenstore and xl agree', async () => {
    const before = lastReportNumber(vm, GUEST);
    await vm.execOk(`${XT} pci-attach ${WAIT} ${GUEST} ${BDF}`, { timeoutS: 900 });
    const seen = await waitForGuestPci(vm, GUEST, (r) => r.devices.length === 1, before, 600_000);
    expect(seen.devices.length).toBe(1);
    expect((await vm.execOk(`xl pci-list ${GUEST}`, { timeoutS: 900 })).stdout).toContain(BDF);

    const after = lastReportNumber(vm, GUEST);
    const killed = await vm.exec(`XENTOOL_TEST_KILL_AT_STEP=2 ${XT} pci-detach ${WAIT} ${GUEST} ${BDF}`, { timeoutS: 900 });
    saveTranscript('recovery/detach-killed.txt', JSON.stringify(killed, null, 1));
    expect(killed.code).toBe(137);
    const rec = await vm.exec(`${XT} pci-recover`, { timeoutS: 900 });
    saveTranscript('recovery/detach-recover.txt', rec.stdout + rec.stderr);
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/^pci-detach .*: finished, because step 1 had completed/);
    const gone = await waitForGuestPci(vm, GUEST, (r) => r.devices.length === 0, after, 600_000);
    expect(gone.devices).toEqual([]);
    const a = await agreement();
    expect(a).toEqual({ xlPciList: '', backend: '', libxl: expect.stringMatching(/couldn't read path|not exist|ENOENT/i), audit: { code: 0, stdout: expect.stringMatching(/^pci-audit: clean /) } });
    // Consistent enough to use again at once.
    await vm.execOk(`${XT} pci-attach ${WAIT} ${GUEST} ${BDF}`, { timeoutS: 900 });
    expect((await vm.execOk(`xl pci-list ${GUEST}`, { timeoutS: 900 })).stdout).toContain(BDF);
    await vm.execOk(`${XT} pci-detach ${WAIT} ${GUEST} ${BDF}`, { timeoutS: 900 });
  }, T);
});
