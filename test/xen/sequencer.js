// Hands the files to the workers (one VM each) longest first, so that the VMs end at about the
// same time; the rest in name order; 00 and 01 before all of them. The weights are minutes
// measured in full runs on the 2-core machine (2026-11-24), not exact: only their order matters.
const Sequencer = require('@jest/test-sequencer').default;
const path = require('path');

const MINUTES = {
  '16-hvm.test.ts': 11,
  '15-contract.test.ts': 9,
  '20-create-pv.test.ts': 8,
  '08-pci-crash-recovery.test.ts': 5,
  '11-xentool-pv-attach.test.ts': 4,
  '07-xenstore-client.test.ts': 4,
};

/** First of all: they check a freshly booted dom0 (e.g. no spare device bound to any driver). */
const FIRST = ['00-harness.test.ts', '01-dom0.test.ts'];

class LongestFirst extends Sequencer {
  sort(tests) {
    const w = (t) => (FIRST.includes(path.basename(t.path)) ? 1000 : (MINUTES[path.basename(t.path)] ?? 0));
    const byName = (a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
    return [...tests].sort((a, b) => w(b) - w(a) || byName(a, b));
  }
}
module.exports = LongestFirst;
