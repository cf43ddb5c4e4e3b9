// Entry point of the operator. SIGTERM drains the work queues, releases the lease and exits.
import { pino } from 'pino';
import { loadOperatorConfig } from './config.ts';
import { Operator } from './operator.ts';
import { loadConnection, UnsupportedAuthError, type KubeConnection } from './runtime/kube-api.ts';

let config;
try {
  config = loadOperatorConfig(process.env);
} catch (err) {
  console.error(`recording-operator: configuration error: ${(err as Error).message}`);
  process.exit(2);
}
const log = pino({ name: 'recording-operator', level: config.LOG_LEVEL });
let connection: KubeConnection;
try {
  connection = loadConnection(process.env);
} catch (err) {
  if (!(err instanceof UnsupportedAuthError)) {
    console.error(`recording-operator: cannot reach Kubernetes: ${(err as Error).message}`);
    process.exit(2);
  }
  // Cloud kubeconfigs (exec plugins, auth providers) when run outside the cluster: client-node does those.
  log.info({ reason: err.message }, 'using client-node for authentication');
  const { defaultClientNodeConnection } = await import('./runtime/client-node-connection.ts');
  connection = defaultClientNodeConnection();
}
const operator = new Operator(connection, config, log);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  log.info('shutting down');
  const force = setTimeout(() => process.exit(0), 20_000);
  force.unref();
  await operator.stop().catch((err: Error) => log.error({ err: err.message }, 'shutdown failed'));
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());

await operator.start();
log.info({ healthPort: operator.healthPort, callEventsPort: operator.callEventsPort }, 'recording-operator running');
