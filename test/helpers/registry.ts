// The registry and port helpers are shipped (steps/local: the demo and local runs use them too).
export { startRegistry, type Registry, type RegistryOptions } from '../../steps/local/registry.ts';
