/**
 * `forge.artifacts`, as discovery and rendering add it beside each project's file in its package:
 * one entry per declared artifact with its published `uri` and `digest`, its producer's outputs
 * and each of its publishers' outputs — placeholders, unless a release gives the values
 * (render.ts), so a project that refers to them discovers before any release.
 */

/** What a release has not filled in: a reference to it renders as this placeholder. */
export const UNRELEASED = 'forge-unreleased:artifact/';

/** Producer outputs (`forge.artifacts[n].producer.<field>`), reference §3.3 for the types forge produces. */
export const PRODUCER_OUTPUTS = ['digest', 'size', 'layers', 'os', 'arch', 'format'];
/** Publisher outputs (`forge.artifacts[n].publishers[p].<field>`): docker and github (reference §3.3). */
export const PUBLISHER_OUTPUTS = ['uri', 'registry', 'namespace', 'repository', 'tag', 'digest', 'release_url', 'asset_name', 'download_url'];

const list = (fields: string[]) => `[${fields.map((f) => JSON.stringify(f)).join(', ')}]`;
export const ARTIFACT_PLACEHOLDERS = `package project

// Written by forge-workflows: each declared artifact's values, for deployment.resources.
// (Through a let: inside forge.artifacts, \`artifacts\` would name forge.artifacts itself.)
artifacts: [string]: publishers: {...}
let declared = artifacts
forge: artifacts: {for n, a in declared {(n): {
	uri:    *"${UNRELEASED}\\(n)" | string
	digest: *"${UNRELEASED}\\(n)" | string
	producer: {for f in ${list(PRODUCER_OUTPUTS)} {(f): *"${UNRELEASED}\\(n)/producer/\\(f)" | string}}
	publishers: {for p, _ in a.publishers {(p): {for f in ${list(PUBLISHER_OUTPUTS)} {(f): *"${UNRELEASED}\\(n)/publishers/\\(p)/\\(f)" | string}}}}
}}}
`;
