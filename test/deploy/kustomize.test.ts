// deploy/: both overlays, and the sidecar component on sample workloads of every kind, rendered
// offline by `kubectl kustomize`; every object validated against the Kubernetes schemas
// (kubernetes-models); the broker's securityContext, native-sidecar shape, projected token,
// listeners, image name and NetworkPolicy asserted; the config each ConfigMap carries validated by
// the broker's own config schema; the DaemonSet's shell steps run here on a folder standing in for
// the node's, with only the capabilities the manifest grants.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DaemonSet, Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ConfigMap, ServiceAccount } from 'kubernetes-models/v1';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { isLoopbackHost, parseListen } from '../../src/net.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are walked as plain data
type Obj = any;

const MODELS: Record<string, new (data: Obj) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

async function renderDir(dir: string): Promise<Obj[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir]);
  return parseAllDocuments(stdout).map((d) => d.toJS());
}

const render = (overlay: string) => renderDir(path.join(ROOT, 'deploy/overlays', overlay));

/** The name the manifests give the image, which `kustomize edit set image` replaces. */
const IMAGE_NAME = 'localhost/credential-broker';

/** A kustomization in a temp folder (kustomize takes only relative paths to other folders). */
async function withKustomization<T>(
  files: Record<string, string>,
  use: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cb-kustomize-'));
  try {
    for (const [name, text] of Object.entries(files))
      await writeFile(path.join(dir, name), text.replaceAll('@ROOT@', path.relative(dir, ROOT)));
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The pod spec of any workload kind. */
function podOf(o: Obj): Obj {
  return o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template;
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
  'apps/v1/StatefulSet': ['kubernetes-models/apps/v1', 'IStatefulSet'],
  'batch/v1/Job': ['kubernetes-models/batch/v1', 'IJob'],
  'batch/v1/CronJob': ['kubernetes-models/batch/v1', 'ICronJob'],
  'networking.k8s.io/v1/NetworkPolicy': ['kubernetes-models/networking.k8s.io/v1', 'INetworkPolicy'],
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

/** The broker sidecar as the component adds it, and how each app container is wired to it. */
function assertSidecar(objects: Obj[], workload: Obj): { broker: Obj; config: Obj } {
  const pod = podOf(workload).spec;
  const what = `${workload.kind}/${workload.metadata.name}`;
  const broker = pod.initContainers?.find((c: Obj) => c.name === 'credential-broker');
  assert.ok(broker, `${what}: the broker is an initContainer`);
  assert.equal(broker.restartPolicy, 'Always', `${what}: native sidecar, runs for the pod’s lifetime`);
  assertLockedDown(pod, broker);
  // It takes the pod's uid, which the app shares: the client token file is 0600.
  assert.equal(broker.securityContext.runAsUser, undefined, `${what}: no uid of its own`);
  assert.equal(podOf(workload).metadata.labels['aws-credential-broker/role'], 'sidecar', what);
  const config = brokerConfig(objects, pod);
  assertProjectedToken(pod, broker, config);

  // Every app container gets the endpoint and the token file from a shared in-memory volume, in a
  // subfolder of it: an emptyDir is 0777 without the sticky bit, a folder the broker refuses.
  const brokerMount = broker.volumeMounts.find(
    (m: Obj) => path.dirname(path.dirname(config.server.tokenFile)) === m.mountPath,
  );
  assert.ok(brokerMount && !brokerMount.readOnly, `${what}: the broker writes the token folder`);
  const shared = pod.volumes.find((v: Obj) => v.name === brokerMount.name);
  assert.equal(shared.emptyDir?.medium, 'Memory', `${what}: the token lives in memory only`);
  assert.ok(pod.containers.length > 0);
  for (const app of pod.containers) {
    const env = Object.fromEntries(app.env.map((e: Obj) => [e.name, e.value]));
    assert.equal(
      env.AWS_CONTAINER_CREDENTIALS_FULL_URI,
      `http://${config.server.listen}/v1/credentials/default`,
      `${what}/${app.name}`,
    );
    assert.equal(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, config.server.tokenFile, `${what}/${app.name}`);
    const appMount = app.volumeMounts.find((m: Obj) => m.name === shared.name);
    assert.equal(appMount?.mountPath, brokerMount.mountPath, `${what}/${app.name}`);
    assert.equal(appMount.readOnly, true, `${what}/${app.name}: the app cannot replace the token`);
  }

  // Probes reach the metrics listener (kubelet cannot reach the pod's loopback).
  const metricsPort = parseListen(config.metrics.listen).port;
  assert.equal(broker.startupProbe.httpGet.path, '/readyz', 'the app starts once credentials are ready');
  assert.equal(broker.livenessProbe.httpGet.path, '/healthz');
  assert.equal(broker.readinessProbe.httpGet.path, '/readyz');
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'])
    assert.equal(probePort(broker, probe), metricsPort, probe);
  return { broker, config };
}

/** Where a listener binds beyond the pod or host it runs in: never on the host network. */
function assertNoWideListener(pod: Obj, config: Obj): void {
  for (const listen of [config.server.listen, config.metrics.listen, config.imds?.listen].filter(Boolean)) {
    if (pod.hostNetwork) assert.ok(isLoopbackHost(parseListen(listen).host), `${listen} on the host network`);
  }
}

const SAMPLE_WORKLOADS = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ledger}
spec:
  serviceName: ledger
  selector: {matchLabels: {app: ledger}}
  template:
    metadata: {labels: {app: ledger}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 2000}
      containers:
        - name: db
          image: registry.example.com/ledger-db:1
          env: [{name: KEEP, value: "me"}]
          volumeMounts: [{name: data, mountPath: /data}]
        - name: exporter
          image: registry.example.com/exporter:1
      volumes: [{name: data, emptyDir: {}}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: registry.example.com/migrate:1}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly-export}
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: export, image: registry.example.com/export:1}]
`;

describe('kustomize manifests', () => {
  it('sidecar component: adds the broker to any workload, whatever its kind, names and containers', async (t) => {
    if (!(await hasKubectl())) return t.skip('kubectl is not installed (Debian: kubernetes-client)');
    const objects = await withKustomization(
      {
        'workloads.yaml': SAMPLE_WORKLOADS,
        'kustomization.yaml': `resources: [workloads.yaml]
components: ["@ROOT@/deploy/components/sidecar"]
`,
      },
      renderDir,
    );
    validateAll(objects);
    const workloads = objects.filter((o) => ['StatefulSet', 'Job', 'CronJob'].includes(o.kind));
    assert.deepEqual(workloads.map((o) => o.kind).sort(), ['CronJob', 'Job', 'StatefulSet']);
    const brokers = workloads.map((w) => assertSidecar(objects, w).broker);
    // the same broker everywhere (one definition in the component)
    for (const b of brokers) assert.deepEqual(b, brokers[0]);
    // what the workloads had is kept
    const ledger = podOf(workloads.find((o) => o.kind === 'StatefulSet')).spec;
    assert.deepEqual(ledger.containers[0].env[0], { name: 'KEEP', value: 'me' });
    assert.ok(ledger.containers[0].volumeMounts.some((m: Obj) => m.name === 'data'));
    assert.ok(ledger.volumes.some((v: Obj) => v.name === 'data'));
    assert.equal(ledger.securityContext.runAsUser, 2000, 'the pod’s uid, which the broker takes');
    // the template the values come from is not rendered
    assert.ok(!objects.some((o) => o.kind === 'Pod'));
  });

  it('sidecar overlay: the demo app with the component and its NetworkPolicy', async (t) => {
    if (!(await hasKubectl())) return t.skip('kubectl is not installed (Debian: kubernetes-client)');
    const objects = await render('sidecar');
    validateAll(objects);
    const deployment = objects.find((o) => o.kind === 'Deployment');
    const { broker, config } = assertSidecar(objects, deployment);
    const pod = deployment.spec.template.spec;
    assert.equal(pod.securityContext.runAsUser, 1000, 'the app and the broker share the pod’s uid');
    assert.equal(pod.automountServiceAccountToken, false, 'no Kubernetes API token in the pod');
    assertNoWideListener(pod, config);

    // Metrics bind the pod's network (the kubelet and Prometheus reach only the pod IP); the
    // NetworkPolicy lets only the monitoring namespace reach that port of these pods.
    const metricsPort = parseListen(config.metrics.listen).port;
    const policy = objects.find((o) => o.kind === 'NetworkPolicy');
    assert.ok(policy, 'a NetworkPolicy');
    const labels = deployment.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(policy.spec.podSelector.matchLabels)) assert.equal(labels[k], v);
    assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
    assert.equal(policy.spec.ingress.length, 1);
    const [rule] = policy.spec.ingress;
    assert.deepEqual(rule.ports, [{ protocol: 'TCP', port: metricsPort }]);
    assert.ok(rule.from.length > 0 && rule.from.every((f: Obj) => f.namespaceSelector && !f.ipBlock));
    assert.ok(!broker.ports.some((p: Obj) => p.containerPort === parseListen(config.server.listen).port));
  });

  it('the image is named once, never pulls from a public registry by default, and is set as documented', async (t) => {
    if (!(await hasKubectl())) return t.skip('kubectl is not installed (Debian: kubernetes-client)');
    // docs/operations.md says how to point the manifests at your registry
    const ops = await readFile(path.join(ROOT, 'docs/operations.md'), 'utf8');
    const set = /kustomize edit set image (\S+)=(\S+):(\S+)/.exec(ops);
    assert.ok(set, 'docs/operations.md shows `kustomize edit set image NAME=IMAGE:TAG`');
    const [, name, newName, newTag] = set;
    assert.equal(name, IMAGE_NAME);
    // what that command writes into a kustomization, rendered over each form
    for (const form of ['overlays/sidecar', 'overlays/daemonset']) {
      const plain = await renderDir(path.join(ROOT, 'deploy', form));
      const images = plain.flatMap((o) => (o.spec?.template ? brokerImages(podOf(o).spec) : []));
      assert.ok(images.length > 0, form);
      // an unqualified name would be looked up on Docker Hub, where anyone can publish it
      for (const image of images) assert.ok(image.startsWith(`${IMAGE_NAME}:`), `${form}: ${image}`);
      const objects: Obj[] = await withKustomization(
        {
          'kustomization.yaml': `resources: ["@ROOT@/deploy/${form}"]
images:
  - name: ${name}
    newName: ${newName}
    newTag: "${newTag}"
`,
        },
        renderDir,
      );
      const replaced = objects.flatMap((o: Obj) => (o.spec?.template ? brokerImages(podOf(o).spec) : []));
      assert.equal(replaced.length, images.length);
      for (const image of replaced) assert.equal(image, `${newName}:${newTag}`, form);
    }
  });

  it('daemonset overlay: one broker per node on the host network, nothing reachable off the node', async (t) => {
    if (!(await hasKubectl())) return t.skip('kubectl is not installed (Debian: kubernetes-client)');
    const objects = await render('daemonset');
    validateAll(objects);
    const ds = objects.find((o) => o.kind === 'DaemonSet');
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(pod.automountServiceAccountToken, false, 'no Kubernetes API token in the pod');
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
    // every listener on the node's loopback; the kubelet (on the node) probes 127.0.0.1
    assertNoWideListener(pod, config);
    const metrics = parseListen(config.metrics.listen);
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      assert.equal(probePort(broker, probe), metrics.port, probe);
      assert.equal(broker[probe].httpGet.host, metrics.host, `${probe} goes to the loopback address`);
    }
    // the kubelet's grace period must cover the broker's drain
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > config.server.shutdownTimeout);
  });

  it('daemonset overlay: the token folder on the node belongs to a uid and gid of its own, the token is group-readable', async (t) => {
    if (!(await hasKubectl())) return t.skip('kubectl is not installed (Debian: kubernetes-client)');
    const objects = await render('daemonset');
    const pod = objects.find((o) => o.kind === 'DaemonSet').spec.template.spec;
    const broker = pod.containers.find((c: Obj) => c.name === 'credential-broker');
    const config = brokerConfig(objects, pod);
    const uid = broker.securityContext.runAsUser ?? pod.securityContext.runAsUser;
    const gid = pod.securityContext.runAsGroup;
    assert.ok(uid > 1000 && gid > 1000, `uid ${uid} gid ${gid}: not a node's usual login user or group`);
    const hostRun = pod.volumes.find((v: Obj) => v.hostPath);
    const dir = path.dirname(config.server.tokenFile);
    assert.equal(hostRun.hostPath.path, dir);
    assert.equal(hostRun.hostPath.type, 'DirectoryOrCreate');
    const init = pod.initContainers.find((c: Obj) =>
      c.volumeMounts.some((m: Obj) => m.name === hostRun.name),
    );
    assert.ok(init, 'an init container prepares the folder');
    assert.deepEqual(init.securityContext.capabilities.drop, ['ALL']);
    assert.equal(init.securityContext.allowPrivilegeEscalation, false);
    assert.equal(init.volumeMounts.length, 1, 'it sees nothing of the node but that folder');

    // The manifest's own shell steps, run here on a folder standing in for the node's.
    if (process.getuid?.() !== 0) return t.skip('running the steps needs root (chown)');
    if (!(await which('setpriv'))) return t.skip('setpriv is not installed (util-linux)');
    const node = await mkdtemp(path.join(tmpdir(), 'cb-node-run-'));
    try {
      const onNode = (text: string) => text.replaceAll(dir, node);
      // what a node may hold before: a token planted by a login user, one left by an older uid
      await writeFile(path.join(node, 'token'), 'planted', { mode: 0o666 });
      await run('chown', ['1000:1000', path.join(node, 'token')]);
      await mkdir(path.join(node, 'planted-dir'), { mode: 0o700 });
      await run('chown', ['1000:1000', path.join(node, 'planted-dir')]);
      // root with exactly the capabilities the init container keeps
      const caps = init.securityContext.capabilities.add.map((c: string) => `+${c.toLowerCase()}`).join(',');
      await run('setpriv', [`--bounding-set=-all,${caps}`, '--inh-caps=-all', ...init.command.map(onNode)]);
      let st = await stat(node);
      assert.equal(st.mode & 0o7777, 0o750);
      assert.deepEqual([st.uid, st.gid], [uid, gid]);
      await assert.rejects(stat(path.join(node, 'token')), 'the planted token is gone');
      await assert.rejects(stat(path.join(node, 'planted-dir')));

      // the broker creates its token 0600 (as src/server/client-tokens.ts does); the postStart
      // step, as the broker's uid, lets the group read it
      await writeFile(path.join(node, 'token'), 'x', { mode: 0o600 });
      await run('chown', [`${uid}:${gid}`, path.join(node, 'token')]);
      const as = ['--reuid', String(uid), '--regid', String(gid), '--clear-groups'];
      await run('setpriv', [...as, ...broker.lifecycle.postStart.exec.command.map(onNode)]);
      st = await stat(path.join(node, 'token'));
      assert.equal(st.mode & 0o777, 0o640);
      // the init step again (a pod restart) keeps the broker's own token
      await run('setpriv', [`--bounding-set=-all,${caps}`, '--inh-caps=-all', ...init.command.map(onNode)]);
      assert.equal((await stat(path.join(node, 'token'))).mode & 0o777, 0o640);
    } finally {
      await rm(node, { recursive: true, force: true });
    }
  });
});

/** The images of the broker's containers in a pod spec (by the image name, whatever it is set to). */
function brokerImages(pod: Obj): string[] {
  return [...(pod.initContainers ?? []), ...pod.containers]
    .filter((c: Obj) => c.name === 'credential-broker' || c.image.includes('credential-broker'))
    .map((c: Obj) => c.image);
}

async function which(cmd: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${cmd}`]).then(
    () => true,
    () => false,
  );
}
