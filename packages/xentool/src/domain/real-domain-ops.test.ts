/**
 * RealDomainOps.buildPre hands the plan's TSC mode and itsc to libxenctrl/libxenguest, for PV
 * and HVM, in libxl__arch_domain_create's order. The bindings are replaced by a recorder (the
 * calls themselves are tested against libxenguest in libxc-bindings and on real Xen in
 * test/xen); what is checked here is the wiring, which used to pass a fixed 0 and false.
 */
import type { XcInterface } from '@xentool/libxc-bindings';
import type { XenstoreClient } from '@xentool/xenstore';
import type { Xs } from '../xs/xs';
import { RealDomainOps } from './real-domain-ops';

const calls: unknown[][] = [];

jest.mock('@xentool/libxc-bindings', () => ({
  HVM_PARAM: { HPET_ENABLED: 11, VPT_ALIGN: 16, TIMER_MODE: 10, ALTP2M: 35 },
  evtchnAllocUnbound: (_xc: unknown, domid: number) => (calls.push(['xc_evtchn_alloc_unbound', domid]), calls.length),
  setMemmapLimit: (_xc: unknown, domid: number, kib: number) => void calls.push(['xc_domain_set_memmap_limit', domid, kib]),
  setTscInfo: (_xc: unknown, domid: number, mode: number) => void calls.push(['xc_domain_set_tsc_info', domid, mode]),
  cpuidApplyPolicy: (_xc: unknown, domid: number, o: object) => void calls.push(['xc_cpuid_apply_policy', domid, o]),
  hvmParamSet: (_xc: unknown, domid: number, p: number, v: number) => void calls.push(['xc_hvm_param_set', domid, p, v]),
  setPagingMempoolSize: (_xc: unknown, domid: number, bytes: bigint) => void calls.push(['xc_set_paging_mempool_size', domid, bytes]),
}));

const xc = {
  setMaxVcpus: (domid: number, n: number) => void calls.push(['xc_domain_max_vcpus', domid, n]),
  setMaxMem: (domid: number, kib: number) => void calls.push(['xc_domain_setmaxmem', domid, kib]),
} as unknown as XcInterface;

const ops = () =>
  new RealDomainOps(
    xc,
    {} as XenstoreClient,
    {} as Xs,
    async () => [],
    async () => {
      throw new Error('no QMP here');
    },
  );

const names = () => calls.map((c) => c[0]);

beforeEach(() => {
  calls.length = 0;
});

describe.each([0, 1, 2] as const)('tsc mode %i', (tscMode) => {
  it.each([false, true])('PV, itsc %s: set_tsc_info gets the mode, the CPUID policy the itsc, after the memmap limit', async (itsc) => {
    await ops().buildPre(7, { maxVcpus: 2, maxMemKiB: 132096, memmapLimitKiB: 131072, tscMode, itsc });
    expect(calls.find((c) => c[0] === 'xc_domain_set_tsc_info')).toEqual(['xc_domain_set_tsc_info', 7, tscMode]);
    expect(calls.find((c) => c[0] === 'xc_cpuid_apply_policy')).toEqual(['xc_cpuid_apply_policy', 7, { pae: true, itsc, nestedVirt: false }]);
    expect(names().slice(-3)).toEqual(['xc_domain_set_memmap_limit', 'xc_domain_set_tsc_info', 'xc_cpuid_apply_policy']);
  });

  it.each([false, true])('HVM, itsc %s: the same, after the HVM parameters and before the paging pool', async (itsc) => {
    await ops().buildPre(8, { maxVcpus: 1, maxMemKiB: 263168, memmapLimitKiB: 262144, tscMode, itsc, hvm: { pagingMempoolKiB: 2048 } });
    expect(calls.find((c) => c[0] === 'xc_domain_set_tsc_info')).toEqual(['xc_domain_set_tsc_info', 8, tscMode]);
    expect(calls.find((c) => c[0] === 'xc_cpuid_apply_policy')).toEqual(['xc_cpuid_apply_policy', 8, { pae: true, itsc, nestedVirt: false }]);
    expect(names().slice(-4)).toEqual(['xc_hvm_param_set', 'xc_domain_set_tsc_info', 'xc_set_paging_mempool_size', 'xc_cpuid_apply_policy']);
    expect(names()).not.toContain('xc_domain_set_memmap_limit');
  });
});
