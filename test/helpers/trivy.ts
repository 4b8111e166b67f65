export { attestScan, trivyReport, type Vuln } from '../../steps/local/scan-attestation.ts';
