/** What tests and scripts start the sandbox with; main.ts is the same, read from the environment. */
export { loadSandboxConfig, SandboxConfigError, type SandboxSettings } from './config.ts';
export type { EndpointName, FaultConfig, FaultRule } from './faults/fault-config.ts';
export { startStripeSandbox, type StripeSandbox } from './sandbox.ts';
