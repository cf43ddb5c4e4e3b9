package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb"
)

// alertScenario is what `chart-check alerts` reads: alerting rules, the series Prometheus would have
// scraped, and how long to run the rule evaluation for.
type alertScenario struct {
	Rules []struct {
		Alert string `json:"alert"`
		Expr  string `json:"expr"`
		For   string `json:"for"`
	} `json:"rules"`
	Series []struct {
		Labels map[string]string `json:"labels"`
		// Samples as [seconds since the start, value].
		Samples [][2]float64 `json:"samples"`
	} `json:"series"`
	EvalIntervalSeconds float64 `json:"evalIntervalSeconds"`
	DurationSeconds     float64 `json:"durationSeconds"`
}

// firing is when an alert first went Firing (seconds since the start), with its labels.
type firing struct {
	Alert  string            `json:"alert"`
	At     float64           `json:"at"`
	Labels map[string]string `json:"labels"`
}

// runAlerts evaluates the rules the way Prometheus' rule manager does (rules.AlertingRule.Eval on a
// TSDB through the PromQL engine, every evalIntervalSeconds, `for` honoured) and prints the first time
// each alert fired.
func runAlerts() {
	var scenario alertScenario
	if err := json.NewDecoder(os.Stdin).Decode(&scenario); err != nil {
		fail("the scenario on stdin: " + err.Error())
	}
	dir, err := os.MkdirTemp("", "chart-check-tsdb-")
	if err != nil {
		fail(err.Error())
	}
	defer os.RemoveAll(dir)
	db, err := tsdb.Open(dir, nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		fail(err.Error())
	}
	defer db.Close()
	start := time.Unix(1_800_000_000, 0)
	ctx := context.Background()
	appender := db.Appender(ctx)
	for _, series := range scenario.Series {
		set := labels.FromMap(series.Labels)
		for _, sample := range series.Samples {
			if _, err := appender.Append(0, set, start.Add(time.Duration(sample[0]*float64(time.Second))).UnixMilli(), sample[1]); err != nil {
				fail("appending a sample: " + err.Error())
			}
		}
	}
	if err := appender.Commit(); err != nil {
		fail(err.Error())
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	query := rules.EngineQueryFunc(engine, db)
	alerting := make([]*rules.AlertingRule, 0, len(scenario.Rules))
	for _, rule := range scenario.Rules {
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(rule.Expr)
		if err != nil {
			fail(rule.Alert + ": " + err.Error())
		}
		hold := time.Duration(0)
		if rule.For != "" {
			d, err := model.ParseDuration(rule.For)
			if err != nil {
				fail(rule.Alert + ": for: " + err.Error())
			}
			hold = time.Duration(d)
		}
		alerting = append(alerting, rules.NewAlertingRule(rule.Alert, expr, hold, 0, labels.EmptyLabels(), labels.EmptyLabels(), labels.EmptyLabels(), "", false, slog.New(slog.DiscardHandler)))
	}
	step := time.Duration(scenario.EvalIntervalSeconds * float64(time.Second))
	if step <= 0 {
		step = 30 * time.Second
	}
	seen := map[string]bool{}
	fired := []firing{}
	for t := start; !t.After(start.Add(time.Duration(scenario.DurationSeconds * float64(time.Second)))); t = t.Add(step) {
		for _, rule := range alerting {
			if _, err := rule.Eval(ctx, 0, t, query, nil, 0); err != nil {
				fail(rule.Name() + ": " + err.Error())
			}
			for _, alert := range rule.ActiveAlerts() {
				key := rule.Name() + alert.Labels.String()
				if alert.State == rules.StateFiring && !seen[key] {
					seen[key] = true
					fired = append(fired, firing{Alert: rule.Name(), At: t.Sub(start).Seconds(), Labels: alert.Labels.Map()})
				}
			}
		}
	}
	sort.SliceStable(fired, func(i, j int) bool { return fired[i].At < fired[j].At })
	if err := json.NewEncoder(os.Stdout).Encode(fired); err != nil {
		fail(err.Error())
	}
}
