/**
 * The real-Xen suite: global-setup.ts boots the VMs (XENVM_VMS, one by default; one jest worker per VM; a file
 * runs in its worker's VM, one file at a time per VM, so files that share a hypervisor and its PCI
 * devices never overlap). Run it with `npm run test:xen` (needs root, test/xen/setup.sh).
 */
/** @type {import('jest').Config} */
module.exports = {
  rootDir: '../..',
  testEnvironment: 'node',
  roots: ['<rootDir>/test/xen'],
  testMatch: ['**/*.test.ts'],
  // The *-xl files prove the harness with xl alone and record xl's fixtures; they add minutes and
  // test no xentool code, so they run only when asked (XENVM_XL_PROOFS=1).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/xen/work/', ...(process.env.XENVM_XL_PROOFS === '1' ? [] : ['-xl\\.test\\.ts$'])],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }] },
  moduleNameMapper: {
    '^@xentool/(xenstore|pciback|libxc-bindings)$': '<rootDir>/packages/$1/src',
  },
  globalSetup: '<rootDir>/test/xen/global-setup.ts',
  globalTeardown: '<rootDir>/test/xen/global-teardown.ts',
  // One worker per VM (suite.ts suiteVmCount: XENVM_VMS or 1; 1 for a served VM).
  maxWorkers: process.env.XENVM_RUN_DIR ? 1 : Math.max(1, Number(process.env.XENVM_VMS ?? 1) || 1),
  // Longest files first, so that several VMs finish together (sequencer.js); each file leaves its
  // host as it found it, so the order is not a matter of correctness.
  testSequencer: '<rootDir>/test/xen/sequencer.js',
  testTimeout: 300000,
  slowTestThreshold: 60,
};
