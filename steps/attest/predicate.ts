/** The in-toto predicate of a promotion: what was promoted, from where, checked how, by whom. */
export { PROMOTION_PREDICATE_TYPE } from '../lib/predicates.ts';

export interface PromotionPredicate {
  source: string;
  digest: string;
  trusted: string;
  signer: string;
  scan: unknown;
  policy: unknown;
  workflow: { name: string; uid: string };
  promotedAt: string;
}
