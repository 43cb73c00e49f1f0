/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The real-Xen suite needs root and a VM; it runs through `npm run test:xen`.
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '<rootDir>/test/xen/'],
  // Type-checking is done once by `tsc -p tsconfig.check.json`; the transform only transpiles.
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }] },
  moduleNameMapper: {
    '^@xentool/(xenstore|pciback|libxc-bindings)$': '<rootDir>/packages/$1/src',
  },
  testTimeout: 30000,
};
