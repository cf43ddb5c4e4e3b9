// The operator's settings, from its environment (the Helm chart sets them). Validated before anything starts.
import { z } from 'zod';

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const schema = z.object({
  OPERATOR_NAMESPACE: z.string().min(1).default('recording-system'),
  RECORDER_IMAGE: z.string().min(1).default('recording-operator/recorder:0.1.0'),
  LEADER_ELECT: bool.default(true),
  LEASE_NAME: z.string().min(1).default('recording-operator-leader'),
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  HEALTH_HOST: z.string().default('0.0.0.0'),
  RECORDING_WORKERS: z.coerce.number().int().min(1).max(256).default(8),
  POLL_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
  POD_GRACE_SECONDS: z.coerce.number().int().min(10).max(3600).default(180),
  UPLOAD_RETRY_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  CALLTYPE_RECHECK_MS: z.coerce.number().int().min(1000).default(60_000),
  // The auto-on receiver for signed call events (every replica serves it); false turns it off.
  CALL_EVENTS_ENABLED: bool.default(true),
  CALL_EVENTS_PORT: z.coerce.number().int().min(0).max(65535).default(8082),
  CALL_EVENTS_HOST: z.string().default('0.0.0.0'),
  WEBHOOK_WORKERS: z.coerce.number().int().min(1).max(64).default(4),
  // The longest wait between two delivery attempts of one webhook event.
  WEBHOOK_MAX_BACKOFF_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
});

export type OperatorConfig = z.infer<typeof schema>;

export function loadOperatorConfig(env: NodeJS.ProcessEnv): OperatorConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}
