/**
 * The real-Xen suite: one VM boot (global-setup.ts) shared by every test file, which attach to it
 * through XENVM_RUN_DIR. The files run one after another in one process (maxWorkers 1): they share
 * one hypervisor and its PCI devices. Run it with `npm run test:xen` (needs root, test/xen/setup.sh).
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
  maxWorkers: 1,
  // The scenario order matters for readers of the transcripts (domain ids count up), not for
  // correctness: each file leaves the host as it found it.
  testSequencer: '<rootDir>/test/xen/sequencer.js',
  testTimeout: 300000,
  slowTestThreshold: 60,
};
