import { z } from 'zod';

/** Trivy's severities, lowest first (`trivy image --severity` default). Defined here only. */
export const SEVERITIES = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The lowest blocking severity when a policy names none: HIGH and CRITICAL block. */
export const DEFAULT_THRESHOLD: Severity = 'HIGH';

/** A threshold as configured or passed on the command line: any case, one of SEVERITIES. */
export const severitySchema = z.preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), z.enum(SEVERITIES));

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}
