/**
 * Security rules every container of every Argo template must satisfy (DESIGN.md, tekton catalog
 * `recommendations.md`): non-root, read-only root filesystem, no privilege escalation, no
 * capabilities, RuntimeDefault seccomp, requests and limits, a dedicated service account, a pinned
 * image, and no workflow parameter spliced into a shell.
 *
 * Pure: `checkSecurity` takes parsed manifest objects and returns findings; it reads no files and
 * needs none of the shared conformance data, so `npm test` runs it and `npm run conformance` applies it to the
 * synthesized manifests.
 *
 * Not modelled (a template relying on them is reported as failing, the safe direction):
 * `spec.templateDefaults` and `podSpecPatch`.
 */

export type SecurityRule =
  | 'run-as-non-root'
  | 'run-as-user'
  | 'read-only-root-filesystem'
  | 'allow-privilege-escalation'
  | 'capabilities-drop-all'
  | 'privileged'
  | 'seccomp-profile'
  | 'resources'
  | 'service-account'
  | 'image-pinned'
  | 'no-shell-interpolation';

/** Every rule with what it demands, in the order findings are reported. */
export const SECURITY_RULES: Record<SecurityRule, string> = {
  'run-as-non-root': 'securityContext.runAsNonRoot must be true (container, template or workflow level)',
  'run-as-user': 'securityContext.runAsUser must not be 0',
  'read-only-root-filesystem': 'container securityContext.readOnlyRootFilesystem must be true',
  'allow-privilege-escalation': 'container securityContext.allowPrivilegeEscalation must be false',
  'capabilities-drop-all': 'container securityContext.capabilities.drop must include ALL',
  privileged: 'container securityContext.privileged must not be true',
  'seccomp-profile': 'securityContext.seccompProfile.type must be RuntimeDefault (container, template or workflow level)',
  resources: 'resources.requests and resources.limits must both set cpu and memory',
  'service-account': 'spec.serviceAccountName must be set and not "default"; a template-level serviceAccountName must not be "default"',
  'image-pinned': 'image must carry a digest or a tag other than "latest"',
  'no-shell-interpolation': 'no "{{" in script.source, nor in command/args of a shell run with -c (pass parameters through env)',
};

export interface Finding {
  /** `Kind/name` of the Argo object (`WorkflowTemplate/forge-discovery`). */
  object: string;
  /** Template name; absent for object-level rules. */
  template?: string;
  /** Container name (`main` when unnamed); absent for template- and object-level rules. */
  container?: string;
  rule: SecurityRule;
  /** What is wrong, with the offending value. */
  message: string;
  /** Field path inside the object (`spec.templates[0].container.securityContext.privileged`). */
  path: string;
}

export const ARGO_KINDS = ['WorkflowTemplate', 'Workflow', 'ClusterWorkflowTemplate', 'CronWorkflow'] as const;
export type ArgoKind = (typeof ARGO_KINDS)[number];

type Obj = Record<string, unknown>;

const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'fish', 'pwsh', 'powershell', 'cmd', 'cmd.exe']);
/** `-c`, and combined short flags that include it (`-ec`, `-xc`, `-euxc`); `/c` for cmd. */
const COMMAND_FLAG = /^(-[a-zA-Z]*c[a-zA-Z]*|\/c|-Command)$/;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function isArgoObject(v: unknown): v is Obj & { kind: ArgoKind } {
  if (!isObj(v)) return false;
  return (ARGO_KINDS as readonly unknown[]).includes(v.kind) && typeof v.apiVersion === 'string' && v.apiVersion.startsWith('argoproj.io/');
}

export function objectLabel(o: Obj): string {
  const meta = obj(o.metadata);
  return `${String(o.kind)}/${str(meta.name) ?? str(meta.generateName) ?? '<unnamed>'}`;
}

/** One container to check, with where it sits and the pod-level contexts that apply to it. */
interface ContainerSite {
  container: Obj;
  name: string;
  path: string;
  /** Pod-level security contexts with their paths, nearest first (template, then workflow). */
  podContexts: { ctx: Obj; path: string }[];
}

function containersOf(template: Obj, path: string, workflowContext: { ctx: Obj; path: string }): ContainerSite[] {
  const podContexts = [{ ctx: obj(template.securityContext), path: `${path}.securityContext` }, workflowContext];
  const sites: ContainerSite[] = [];
  const add = (c: unknown, p: string): void => {
    if (isObj(c)) sites.push({ container: c, name: str(c.name) ?? 'main', path: p, podContexts });
  };
  add(template.container, `${path}.container`);
  add(template.script, `${path}.script`);
  arr(obj(template.containerSet).containers).forEach((c, i) => add(c, `${path}.containerSet.containers[${i}]`));
  arr(template.initContainers).forEach((c, i) => add(c, `${path}.initContainers[${i}]`));
  arr(template.sidecars).forEach((c, i) => add(c, `${path}.sidecars[${i}]`));
  return sites;
}

/** The effective value of a security-context field: container first, then the pod levels. */
function effective(site: ContainerSite, field: string): { value: unknown; path: string } | undefined {
  const own = obj(site.container.securityContext);
  if (own[field] !== undefined) return { value: own[field], path: `${site.path}.securityContext.${field}` };
  for (const { ctx, path } of site.podContexts) if (ctx[field] !== undefined) return { value: ctx[field], path: `${path}.${field}` };
  return undefined;
}

/** Splits `registry/repo:tag@sha256:…` into its tag and digest (either may be absent). */
export function parseImage(image: string): { tag?: string; digest?: string } {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const name = at >= 0 ? image.slice(0, at) : image;
  const colon = name.lastIndexOf(':');
  const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
  return { ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

function isShell(arg: string): boolean {
  const base = arg.split(/[\\/]/).pop() ?? arg;
  return SHELLS.has(base);
}

/** The argv runs a shell with an inline script (`sh -c …`, `/bin/bash -ec …`, `env bash -c …`). */
export function runsShellScript(argv: string[]): boolean {
  const shellAt = argv.findIndex(isShell);
  return shellAt >= 0 && argv.slice(shellAt + 1).some((a) => COMMAND_FLAG.test(a));
}

function checkContainer(site: ContainerSite, report: (rule: SecurityRule, message: string, path: string) => void): void {
  const c = site.container;
  const sc = obj(c.securityContext);
  const scPath = `${site.path}.securityContext`;

  const nonRoot = effective(site, 'runAsNonRoot');
  if (nonRoot?.value !== true) {
    report('run-as-non-root', nonRoot ? `runAsNonRoot is ${JSON.stringify(nonRoot.value)}` : 'runAsNonRoot is not set at container, template or workflow level', nonRoot?.path ?? `${scPath}.runAsNonRoot`);
  }
  const user = effective(site, 'runAsUser');
  if (user?.value === 0) report('run-as-user', 'runAsUser is 0 (root)', user.path);

  if (sc.readOnlyRootFilesystem !== true) {
    report('read-only-root-filesystem', `readOnlyRootFilesystem is ${shown(sc.readOnlyRootFilesystem)}`, `${scPath}.readOnlyRootFilesystem`);
  }
  if (sc.allowPrivilegeEscalation !== false) {
    report('allow-privilege-escalation', `allowPrivilegeEscalation is ${shown(sc.allowPrivilegeEscalation)}`, `${scPath}.allowPrivilegeEscalation`);
  }
  const drop = arr(obj(sc.capabilities).drop);
  if (!drop.includes('ALL')) report('capabilities-drop-all', `capabilities.drop is ${shown(obj(sc.capabilities).drop)}`, `${scPath}.capabilities.drop`);
  if (sc.privileged === true) report('privileged', 'privileged is true', `${scPath}.privileged`);

  const seccomp = effective(site, 'seccompProfile');
  const seccompType = obj(seccomp?.value).type;
  if (seccompType !== 'RuntimeDefault') {
    report('seccomp-profile', seccomp ? `seccompProfile.type is ${shown(seccompType)}` : 'seccompProfile is not set at container, template or workflow level', seccomp?.path ?? `${scPath}.seccompProfile`);
  }

  const resources = obj(c.resources);
  const missing: string[] = [];
  for (const kind of ['requests', 'limits'] as const) {
    const r = obj(resources[kind]);
    for (const key of ['cpu', 'memory'] as const) {
      if (r[key] === undefined || r[key] === null || r[key] === '') missing.push(`${kind}.${key}`);
    }
  }
  if (missing.length > 0) report('resources', `missing ${missing.join(', ')}`, `${site.path}.resources`);

  const image = str(c.image);
  if (!image) {
    report('image-pinned', 'no image', `${site.path}.image`);
  } else {
    const { tag, digest } = parseImage(image);
    if (image.includes('{{')) report('image-pinned', `image "${image}" is a parameter: it cannot be checked to be pinned`, `${site.path}.image`);
    else if (!digest && !tag) report('image-pinned', `image "${image}" has no tag (means latest)`, `${site.path}.image`);
    else if (!digest && tag === 'latest') report('image-pinned', `image "${image}" uses the tag latest`, `${site.path}.image`);
  }

  const source = str(c.source);
  if (source?.includes('{{')) {
    report('no-shell-interpolation', `script.source interpolates ${firstInterpolation(source)}: pass it through env`, `${site.path}.source`);
  }
  const command = arr(c.command).map(String);
  const args = arr(c.args).map(String);
  if (runsShellScript([...command, ...args])) {
    const lists = [['command', command], ['args', args]] as const;
    for (const [field, list] of lists) {
      list.forEach((a, i) => {
        if (a.includes('{{')) {
          report('no-shell-interpolation', `shell ${command[0] ?? args[0]} -c interpolates ${firstInterpolation(a)}: pass it through env`, `${site.path}.${field}[${i}]`);
        }
      });
    }
  }
}

function shown(v: unknown): string {
  return v === undefined ? 'not set' : `${JSON.stringify(v)}`;
}

function firstInterpolation(text: string): string {
  return text.match(/\{\{.*?\}\}/)?.[0] ?? '{{…';
}

function checkServiceAccount(name: unknown, where: string, required: boolean): string | undefined {
  if (name === undefined || name === null || name === '') return required ? `${where} is not set (pods would run as "default")` : undefined;
  if (name === 'default') return `${where} is "default"`;
  return undefined;
}

/**
 * Checks every container of every template of every Argo object (WorkflowTemplate, Workflow,
 * ClusterWorkflowTemplate, CronWorkflow) in `objects`; other values are ignored. Returns one
 * finding per broken rule per container (or template, or object); an empty list means compliant.
 */
export function checkSecurity(objects: unknown[]): Finding[] {
  const findings: Finding[] = [];
  for (const o of objects) {
    if (!isArgoObject(o)) continue;
    const object = objectLabel(o);
    const specPath = o.kind === 'CronWorkflow' ? 'spec.workflowSpec' : 'spec';
    const spec = o.kind === 'CronWorkflow' ? obj(obj(o.spec).workflowSpec) : obj(o.spec);

    // A Workflow made from a workflowTemplateRef runs under the referenced template's account.
    const saRequired = spec.workflowTemplateRef === undefined;
    const saProblem = checkServiceAccount(spec.serviceAccountName, `${specPath}.serviceAccountName`, saRequired);
    if (saProblem) findings.push({ object, rule: 'service-account', message: saProblem, path: `${specPath}.serviceAccountName` });

    arr(spec.templates).forEach((t, ti) => {
      if (!isObj(t)) return;
      const template = str(t.name) ?? `#${ti}`;
      const tPath = `${specPath}.templates[${ti}]`;
      const tsa = checkServiceAccount(t.serviceAccountName, `${tPath}.serviceAccountName`, false);
      if (tsa) findings.push({ object, template, rule: 'service-account', message: tsa, path: `${tPath}.serviceAccountName` });
      const workflowContext = { ctx: obj(spec.securityContext), path: `${specPath}.securityContext` };
      for (const site of containersOf(t, tPath, workflowContext)) {
        checkContainer(site, (rule, message, path) => findings.push({ object, template, container: site.name, rule, message, path }));
      }
    });
  }
  return findings;
}

/** `WorkflowTemplate/x template discover container main: [rule] message (at path)`. */
export function formatFinding(f: Finding): string {
  const where = [f.object, f.template && `template ${f.template}`, f.container && `container ${f.container}`].filter(Boolean).join(' ');
  return `${where}: [${f.rule}] ${f.message} (at ${f.path})`;
}

/** Number of containers `checkSecurity` looks at, for reporting. */
export function countContainers(objects: unknown[]): number {
  let n = 0;
  for (const o of objects) {
    if (!isArgoObject(o)) continue;
    const spec = o.kind === 'CronWorkflow' ? obj(obj(o.spec).workflowSpec) : obj(o.spec);
    for (const t of arr(spec.templates)) if (isObj(t)) n += containersOf(t, '', { ctx: {}, path: '' }).length;
  }
  return n;
}
