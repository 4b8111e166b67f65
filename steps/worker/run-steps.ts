// Steps by stage, fail-fast, timeouts and process groups live in steps/lib/run-steps.ts, shared
// with the release's artifact producers (steps/lib/release/produce.ts).
export { runSteps, type RunStepsOptions, type StepCommand, type StepsOutcome } from '../lib/run-steps.ts';
