// deploy/: both overlays rendered offline by `kubectl kustomize`, every object validated against
// the Kubernetes schemas (kubernetes-models), the broker's securityContext, native-sidecar shape
// and projected token asserted, and the config each ConfigMap carries validated by the broker's
// own config schema.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, ServiceAccount } from 'kubernetes-models/v1';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are walked as plain data
type Obj = any;

const MODELS: Record<string, new (data: Obj) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
};

async function render(overlay: string): Promise<Obj[]> {
  const { stdout } = await run('kubectl', ['kustomize', path.join(ROOT, 'deploy/overlays', overlay)]);
  return parseAllDocuments(stdout).map((d) => d.toJS());
}

async function hasKubectl(): Promise<boolean> {
  return run('kubectl', ['version', '--client']).then(
    () => true,
    () => false,
  );
}

/** The TypeScript interface of each kind (kubernetes-models, generated from the OpenAPI schema). */
const INTERFACES: Record<string, [module: string, name: string]> = {
  'v1/ConfigMap': ['kubernetes-models/v1', 'IConfigMap'],
  'v1/ServiceAccount': ['kubernetes-models/v1', 'IServiceAccount'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1', 'IDeployment'],
  'apps/v1/DaemonSet': ['kubernetes-models/apps/v1', 'IDaemonSet'],
};

function validateAll(objects: Obj[]): void {
  // Types, required fields and enums: the models' JSON-schema validators.
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    assert.ok(Model, `a schema for ${o.apiVersion} ${o.kind}`);
    assert.doesNotThrow(() => new Model(o).validate(), `${o.kind}/${o.metadata?.name}`);
  }
  // Unknown fields (a misspelt `readOnlyRootFilesytem` is silently ignored by the API server and
  // by those validators): TypeScript's excess-property check of each object as a literal of its
  // kind's interface.
  const unknown = typeCheckAsLiterals(objects);
  assert.deepEqual(unknown, [], unknown.join('\n'));
}

function typeCheckAsLiterals(objects: Obj[]): string[] {
  const file = path.join(ROOT, 'test/deploy/__rendered__.ts');
  const source = objects
    .map((o, i) => {
      const [module, name] = INTERFACES[`${o.apiVersion}/${o.kind}`] ?? [];
      assert.ok(module, `an interface for ${o.apiVersion} ${o.kind}`);
      return `import type { ${name} as T${i} } from '${module}';\nexport const o${i}: T${i} = ${JSON.stringify(o)};`;
    })
    .join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) =>
    name === file
      ? ts.createSourceFile(name, source, language)
      : getSourceFile.call(host, name, language, ...rest);
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
}

/** The restricted Pod Security Standard, plus a read-only root filesystem. */
function assertLockedDown(pod: Obj, container: Obj): void {
  const sc = container.securityContext;
  assert.equal(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, true, 'runAsNonRoot');
  assert.notEqual(sc.runAsUser ?? pod.securityContext?.runAsUser, 0);
  assert.equal(sc.readOnlyRootFilesystem, true, 'readOnlyRootFilesystem');
  assert.equal(sc.allowPrivilegeEscalation, false, 'allowPrivilegeEscalation');
  assert.deepEqual(sc.capabilities?.drop, ['ALL']);
  assert.equal((sc.seccompProfile ?? pod.securityContext?.seccompProfile)?.type, 'RuntimeDefault');
}

/** The projected STS token volume and where the broker mounts it; the config must read it there. */
function assertProjectedToken(pod: Obj, broker: Obj, config: Obj): void {
  const volume = pod.volumes.find((v: Obj) =>
    v.projected?.sources?.some((s: Obj) => s.serviceAccountToken?.audience === 'sts.amazonaws.com'),
  );
  assert.ok(volume, 'a projected service-account token with audience sts.amazonaws.com');
  const source = volume.projected.sources.find((s: Obj) => s.serviceAccountToken).serviceAccountToken;
  const mount = broker.volumeMounts.find((m: Obj) => m.name === volume.name);
  assert.ok(mount?.readOnly, 'mounted read-only into the broker');
  const profile = config.profiles.default;
  assert.equal(profile.source.type, 'web-identity-file');
  assert.equal(profile.source.tokenFile, `${mount.mountPath}/${source.path}`);
  assert.equal(profile.source.expectedAudience, 'sts.amazonaws.com');
  assert.equal(pod.automountServiceAccountToken, false, 'no Kubernetes API token in the pod');
}

function brokerConfig(objects: Obj[], pod: Obj): Obj {
  const name = pod.volumes.find((v: Obj) => v.configMap)?.configMap.name;
  const map = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
  assert.ok(map, `the ConfigMap ${name} the pod mounts is rendered`);
  // The broker's own validation: what `serve` would say about this file.
  return parseConfig(map.data['config.yaml'], '/etc/credential-broker/config.yaml');
}

function probePort(container: Obj, probe: string): number {
  const port = container[probe]?.httpGet?.port;
  const named = container.ports?.find((p: Obj) => p.name === port);
  return named ? named.containerPort : port;
}

describe('kustomize manifests', () => {
  it('sidecar overlay: the broker as a native sidecar beside the app', async (t) => {
    if (!(await hasKubectl())) return t.skip('kubectl is not installed (Debian: kubernetes-client)');
    const objects = await render('sidecar');
    validateAll(objects);
    const deployment = objects.find((o) => o.kind === 'Deployment');
    const pod = deployment.spec.template.spec;
    const broker = pod.initContainers.find((c: Obj) => c.name === 'credential-broker');
    assert.ok(broker, 'the broker is an initContainer');
    assert.equal(broker.restartPolicy, 'Always', 'native sidecar: runs for the pod’s lifetime');
    assertLockedDown(pod, broker);
    const config = brokerConfig(objects, pod);
    assertProjectedToken(pod, broker, config);

    // The app gets the endpoint and the token file from a shared in-memory volume.
    const app = pod.containers[0];
    const env = Object.fromEntries(app.env.map((e: Obj) => [e.name, e.value]));
    assert.equal(
      env.AWS_CONTAINER_CREDENTIALS_FULL_URI,
      `http://${config.server.listen}/v1/credentials/default`,
    );
    assert.equal(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, config.server.tokenFile);
    const shared = pod.volumes.find((v: Obj) => v.emptyDir);
    assert.equal(shared.emptyDir.medium, 'Memory');
    const brokerMount = broker.volumeMounts.find((m: Obj) => m.name === shared.name);
    const appMount = app.volumeMounts.find((m: Obj) => m.name === shared.name);
    assert.equal(path.dirname(config.server.tokenFile), brokerMount.mountPath);
    assert.equal(appMount.mountPath, brokerMount.mountPath);
    assert.equal(appMount.readOnly, true);
    assert.ok(!brokerMount.readOnly);

    // Probes reach the metrics listener (kubelet cannot reach the pod's loopback).
    const metricsPort = Number(config.metrics.listen.split(':').at(-1));
    assert.equal(broker.startupProbe.httpGet.path, '/readyz', 'the app starts once credentials are ready');
    assert.equal(broker.livenessProbe.httpGet.path, '/healthz');
    assert.equal(broker.readinessProbe.httpGet.path, '/readyz');
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'])
      assert.equal(probePort(broker, probe), metricsPort, probe);
  });

  it('daemonset overlay: one broker per node on the host network, same lock-down', async (t) => {
    if (!(await hasKubectl())) return t.skip('kubectl is not installed (Debian: kubernetes-client)');
    const objects = await render('daemonset');
    validateAll(objects);
    const ds = objects.find((o) => o.kind === 'DaemonSet');
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    const broker = pod.containers.find((c: Obj) => c.name === 'credential-broker');
    assertLockedDown(pod, broker);
    const config = brokerConfig(objects, pod);
    assertProjectedToken(pod, broker, config);
    assert.match(
      config.profiles.default.role.arn,
      /role\/node-apps$/,
      'the overlay’s config replaced the base’s',
    );
    assert.equal(objects.filter((o) => o.kind === 'ConfigMap').length, 1);
    const run = pod.volumes.find((v: Obj) => v.hostPath);
    assert.equal(run.hostPath.path, path.dirname(config.server.tokenFile));
    assert.equal(run.hostPath.type, 'Directory', 'prepared on the node for uid 1000, never created as root');
    const metricsPort = Number(config.metrics.listen.split(':').at(-1));
    for (const probe of ['livenessProbe', 'readinessProbe'])
      assert.equal(probePort(broker, probe), metricsPort);
    // the kubelet's grace period must cover the broker's drain
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > config.server.shutdownTimeout);
  });
});
