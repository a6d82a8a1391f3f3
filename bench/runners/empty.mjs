// Baseline for S5: an "empty" Node process. It loads the same harness modules the framework
// runners load (so that cost cancels out of the deltas), reports its start mark and RSS, exits.
import '../lib/agent-scenarios.mjs'
import '../lib/scenarios.mjs'
import { runChild } from '../lib/child.mjs'

runChild('empty', null)
