// The benchmark's synthetic chain (buildSyntheticChain of chain-of-trust/testing): 1 decision task, N builds
// (default 1,000) and N - 1 signing tasks with 4 upstream artifacts each, in a directory store.
import { buildSyntheticChain } from '../dist/testing.js';

export async function buildChainGraph(dir, now = new Date(), builds = 1000) {
  return buildSyntheticChain({ dir, now, builds });
}
