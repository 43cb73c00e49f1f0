// Runs the scenario files in name order (01-..., 02-...), so that the domain ids in the recorded
// transcripts are the same from one run to the next.
const Sequencer = require('@jest/test-sequencer').default;

class ByName extends Sequencer {
  sort(tests) {
    return [...tests].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}
module.exports = ByName;
