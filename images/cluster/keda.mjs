// KEDA for the local cluster, built from its Go module (versions.json `keda`) as Argo is:
//
//   keda-operator   github.com/kedacore/keda/v2/cmd/operator  (the ScaledObject controller, the
//                   scalers, and the gRPC metrics service the adapter asks)
//   keda-adapter    github.com/kedacore/keda/v2/cmd/adapter   (the external.metrics.k8s.io API
//                   server behind the API server's aggregation layer; the HPA reads it)
//
// Built in a local copy of the module (../toolchain/go-local-module.mjs, kept as
// keda-<v>/module): KEDA's own go.mod, with its replace and exclude directives, and its go.sum pin
// every dependency — a throw-away module requiring KEDA would not honour those directives. The
// copy's config/ gives test/cluster/keda.ts KEDA's CRDs, their patches and RBAC.
//
// Images (no registry, no builder; imported by cluster:up like the others):
//   forge.local/keda-operator:<v>, forge.local/keda-metrics-apiserver:<v>   (user 1000, as upstream)
//
// Plain Node.js ESM; node: built-ins only.

import fs from 'node:fs';
import path from 'node:path';
import { localModuleCopy } from '../toolchain/go-local-module.mjs';
import { BuildError, buildCommands, CLUSTER_CACHE, GO_ENV, isExecutable, log, VERSIONS } from './build.mjs';
import { IMAGE_REGISTRY, singleBinaryImage } from './images.mjs';

export const kedaDir = () => path.join(CLUSTER_CACHE, `keda-${VERSIONS.keda.version}`);

/** The built binaries and the module copy (whose config/ holds the CRDs and RBAC). */
export function kedaPaths() {
  const bins = Object.fromEntries(Object.keys(VERSIONS.keda.commands).map((c) => [c, path.join(kedaDir(), 'bin', c)]));
  return { ...bins, module: path.join(kedaDir(), 'module') };
}

export function kedaImagePaths() {
  const v = VERSIONS.keda.version;
  const d = path.join(CLUSTER_CACHE, 'images');
  return {
    'keda-operator': { ref: `${IMAGE_REGISTRY}/keda-operator:${v}`, archive: path.join(d, `keda-operator-${v}.oci.tar`) },
    'keda-metrics-apiserver': { ref: `${IMAGE_REGISTRY}/keda-metrics-apiserver:${v}`, archive: path.join(d, `keda-metrics-apiserver-${v}.oci.tar`) },
  };
}

export async function buildKeda() {
  const k = VERSIONS.keda;
  const dir = kedaDir();
  const { module: _module, ...bins } = kedaPaths();
  if (Object.values(bins).every(isExecutable) && fs.existsSync(path.join(dir, 'module', 'config'))) return { cached: true };
  fs.mkdirSync(dir, { recursive: true });
  const copy = await localModuleCopy({ modulePath: k.module, version: k.version, dir, restoreFiles: k.restoreFiles, createFiles: k.createFiles, env: GO_ENV }).catch((e) => {
    throw new BuildError('keda', e.message);
  });
  for (const r of copy.repaired) log(`keda: ${r}`);
  const ldflags = `-s -w -X ${k.module}/version.Version=${k.version} -X ${k.module}/version.GitCommit=${k.version}`;
  // The first `go build` downloads what go.sum lists for the command's packages (checked against
  // go.sum and the checksum database); a module the proxy refuses fails it, named in the log.
  await buildCommands('keda', dir, copy.dir, k.commands, ldflags, path.join(dir, 'build.log'));
  return { cached: false };
}

export async function buildKedaImages() {
  const bins = kedaPaths();
  const images = kedaImagePaths();
  fs.mkdirSync(path.dirname(images['keda-operator'].archive), { recursive: true });
  await singleBinaryImage({ name: 'keda-operator', ...images['keda-operator'], binary: bins['keda-operator'], user: 1000, entrypoint: ['/bin/keda-operator'] });
  await singleBinaryImage({ name: 'keda-metrics-apiserver', ...images['keda-metrics-apiserver'], binary: bins['keda-adapter'], user: 1000, entrypoint: ['/bin/keda-adapter'] });
}
