// The testing entry of chain-of-trust (`import ... from 'chain-of-trust/testing'`): what a test of a verifier or a
// worker integration needs and a production caller does not. `FaultPlan` makes `startQueueServer` (from
// `chain-of-trust/queue`) misbehave on purpose (status codes, resets, stalls, short bodies); the demo chain builder
// writes keys, a trust setup and a signed task graph into a DirectoryQueue, as `cot demo` does (`runDemo`);
// `buildSyntheticChain` builds a signed chain of any size (the benchmarks' 2,000- and 10,000-task chains).

export {
  type BuildDemoChainOptions,
  type BuildDemoLabOptions,
  buildDemoChain,
  buildDemoLab,
  DEMO_POLICY,
  type DemoChain,
  type DemoLab,
  type DemoSigningKeys,
  type DemoTrust,
  type DemoWorker,
  slugid,
  writeDemoTrust,
} from './demo/builder.js';
export { type DemoOptions, type DemoResult, runDemo } from './demo/demo.js';
export {
  type BuildSyntheticChainOptions,
  buildSyntheticChain,
  type SyntheticChain,
} from './demo/synthetic.js';
export { type Fault, FaultPlan, type FaultTarget } from './transport/server.js';
