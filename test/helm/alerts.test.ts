// The chart's alerts, evaluated the way Prometheus evaluates them (test/tools/chart-check alerts:
// Prometheus' own rule evaluation and PromQL engine over a TSDB), on series shaped like the operator's
// /metrics as Prometheus scrapes them (namespace and pod labels added by the ServiceMonitor's target).
// Each scenario says which alerts must fire, when, and which must stay quiet.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { helmBinary } from '../harness/assets.ts';
import { chartCheck } from '../harness/chart-check.ts';
import { chartDir } from '../harness/crds.ts';
import { pinnedVersions } from '../harness/versions.ts';

const namespace = 'recording-system';
type Rule = { alert: string; expr: string; for?: string };
type Series = { labels: Record<string, string>; samples: [number, number][] };
type Fired = { alert: string; at: number; labels: Record<string, string> };

function renderedRules(values: string[] = []): Rule[] {
  const out = execFileSync(helmBinary(), ['template', 'rec', chartDir, '--namespace', namespace, '--kube-version', pinnedVersions().KUBERNETES_VERSION, '--set', 'metrics.prometheusRule.enabled=true', ...values.flatMap((v) => ['--set', v])], { encoding: 'utf8' });
  const documents = out.split(/^---\s*$/m).filter((d) => /^kind: PrometheusRule/m.test(d));
  const [rule] = loadAllYaml(documents.join('\n---\n')) as { spec: { groups: { rules: Rule[] }[] } }[];
  return rule!.spec.groups.flatMap((g) => g.rules);
}

async function evaluate(rules: Rule[], series: Series[], durationSeconds: number): Promise<Fired[]> {
  return JSON.parse(await chartCheck(['alerts'], JSON.stringify({ rules, series, evalIntervalSeconds: 30, durationSeconds }))) as Fired[];
}

/** A scraped series: every 30 s for `seconds`, value from `value(t)`; `until` ends it (the target went away). */
function scraped(name: string, labels: Record<string, string>, seconds: number, value: (t: number) => number, until = seconds): Series {
  const samples: [number, number][] = [];
  for (let t = 0; t <= Math.min(seconds, until); t += 30) samples.push([t, value(t)]);
  return { labels: { __name__: name, namespace, job: 'recording-operator-metrics', ...labels }, samples };
}

/** What a healthy hour looks like: a leader, recordings finishing UPLOADED, nothing waiting, storage up. */
function healthy(seconds: number, overrides: { leader?: (t: number) => number; leaderUntil?: number } = {}): Series[] {
  return [
    scraped('leader_election_master_status', { pod: 'op-a', name: 'recording-operator-leader' }, seconds, overrides.leader ?? (() => 1), overrides.leaderUntil),
    scraped('leader_election_master_status', { pod: 'op-b', name: 'recording-operator-leader' }, seconds, () => 0, overrides.leaderUntil),
    ...['PENDING', 'INVOKED', 'UPLOADING'].map((phase) => scraped('recording_operator_recording_wait_seconds', { pod: 'op-a', phase }, seconds, (t) => (t % 120 < 60 ? 2 : 0))),
    scraped('recording_operator_recordings_finished_total', { pod: 'op-a', phase: 'UPLOADED', stop_reason: 'API_CALL' }, seconds, (t) => Math.floor(t / 60)),
    scraped('recording_operator_calltype_storage_reachable', { pod: 'op-a', calltype: 'webinar' }, seconds, () => 1),
    scraped('recording_operator_webhook_deliveries_total', { pod: 'op-a', result: 'success' }, seconds, (t) => t),
    scraped('controller_runtime_reconcile_errors_total', { pod: 'op-a', controller: 'recording' }, seconds, () => 3),
  ];
}

describe('alerts (PrometheusRule), evaluated as Prometheus does', () => {
  const rules = renderedRules();

  test('a healthy hour fires nothing', async () => {
    assert.deepEqual(await evaluate(rules, healthy(3600), 3600), []);
  });

  test('no leader: fires 2 minutes after the lease is lost, and when every replica is gone', async () => {
    const lost = await evaluate(rules, healthy(1800, { leader: (t) => (t < 600 ? 1 : 0) }), 1800);
    assert.deepEqual(lost.map((f) => [f.alert, f.at]), [['RecordingOperatorNoLeader', 720]]);
    const gone = await evaluate(rules, healthy(1800, { leaderUntil: 600 }), 1800);
    // The last samples stay visible for Prometheus' 5-minute lookback, then the series are gone.
    assert.deepEqual(gone.map((f) => f.alert), ['RecordingOperatorNoLeader']);
    assert.ok(gone[0]!.at > 600 + 300 && gone[0]!.at <= 600 + 300 + 150, `fired at ${gone[0]!.at}`);
  });

  test('a Recording stuck in INVOKED fires RecordingStuck with its phase, after stuckAfterSeconds and for: 1m', async () => {
    const series = healthy(1800).filter((s) => !(s.labels.__name__ === 'recording_operator_recording_wait_seconds' && s.labels.phase === 'INVOKED'));
    series.push(scraped('recording_operator_recording_wait_seconds', { pod: 'op-a', phase: 'INVOKED' }, 1800, (t) => t));
    const fired = await evaluate(rules, series, 1800);
    assert.deepEqual(fired.map((f) => [f.alert, f.labels.phase, f.at]), [['RecordingStuck', 'INVOKED', 630 + 60]]);
    const later = await evaluate(renderedRules(['metrics.prometheusRule.stuckAfterSeconds=1200']), series, 1800);
    assert.equal(later[0]?.at, 1230 + 60, 'the threshold is the chart value');
  });

  test('ERRORED share: many failures fire RecordingsErroring, a single one among many does not', async () => {
    const base = healthy(3600);
    const many = [...base, scraped('recording_operator_recordings_finished_total', { pod: 'op-a', phase: 'ERRORED', stop_reason: 'RECORDER_LOST' }, 3600, (t) => (t < 1200 ? 0 : Math.floor((t - 1200) / 60)))];
    const fired = await evaluate(rules, many, 3600);
    assert.deepEqual([...new Set(fired.map((f) => f.alert))], ['RecordingsErroring']);
    const one = [...base, scraped('recording_operator_recordings_finished_total', { pod: 'op-a', phase: 'ERRORED', stop_reason: 'RECORDER_LOST' }, 3600, (t) => (t < 1200 ? 0 : 1))];
    assert.deepEqual(await evaluate(rules, one, 3600), []);
  });

  test('storage down for 5 minutes fires RecordingStorageUnreachable for that CallType only', async () => {
    const series = [...healthy(1800), scraped('recording_operator_calltype_storage_reachable', { pod: 'op-a', calltype: 'podcast' }, 1800, (t) => (t < 600 ? 1 : 0))];
    const fired = await evaluate(rules, series, 1800);
    assert.deepEqual(fired.map((f) => [f.alert, f.labels.calltype, f.at]), [['RecordingStorageUnreachable', 'podcast', 900]]);
  });

  test('a dropped webhook event and a failing controller fire their alerts', async () => {
    const series = [
      ...healthy(3600).filter((s) => s.labels.__name__ !== 'controller_runtime_reconcile_errors_total'),
      scraped('recording_operator_webhook_deliveries_total', { pod: 'op-a', result: 'gave_up' }, 3600, (t) => (t < 900 ? 0 : 1)),
      scraped('controller_runtime_reconcile_errors_total', { pod: 'op-a', controller: 'webhook' }, 3600, (t) => t / 2),
    ];
    const fired = await evaluate(rules, series, 3600);
    assert.deepEqual(fired.map((f) => f.alert).sort(), ['RecordingOperatorReconcileErrors', 'RecordingWebhookEventsDropped']);
    assert.equal(fired.find((f) => f.alert === 'RecordingOperatorReconcileErrors')!.labels.controller, 'webhook');
  });
});
