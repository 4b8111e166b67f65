export { freePort } from '../../steps/local/ports.ts';
