/** The in-toto predicate of a promotion: what was promoted, from where, checked how, by whom. */
export const PROMOTION_PREDICATE_TYPE = 'https://forge.dev/attestations/promotion/v1';

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
