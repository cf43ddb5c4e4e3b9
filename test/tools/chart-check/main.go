// chart-check: two checks the TypeScript tests cannot do faithfully on their own.
//
//	chart-check promql      reads one PromQL expression per line on stdin and prints, per line, a JSON
//	                        object {"expr", "error", "metrics"}: parsed by Prometheus' own parser, with
//	                        the metric names every vector selector in it reads.
//	chart-check health FILE reads a Kubernetes object as JSON on stdin, runs the Argo CD health script FILE
//	                        the way Argo CD does (gopher-lua, only the package, base, table and os
//	                        libraries, the object as the global `obj`) and prints {"status","message"}.
//	chart-check alerts      reads alerting rules and series as JSON on stdin, evaluates the rules as
//	                        Prometheus' rule manager does, and prints when each alert first fired.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: chart-check promql | chart-check health SCRIPT | chart-check alerts")
	}
	switch os.Args[1] {
	case "promql":
		checkPromQL()
	case "alerts":
		runAlerts()
	case "health":
		if len(os.Args) != 3 {
			fail("usage: chart-check health SCRIPT")
		}
		runHealth(os.Args[2])
	default:
		fail("unknown command " + os.Args[1])
	}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, message)
	os.Exit(2)
}

type promQLResult struct {
	Expr    string   `json:"expr"`
	Error   string   `json:"error,omitempty"`
	Metrics []string `json:"metrics"`
}

func checkPromQL() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" {
			continue
		}
		var expr string
		if err := json.Unmarshal([]byte(line), &expr); err != nil {
			fail("each line must be a JSON string: " + err.Error())
		}
		result := promQLResult{Expr: expr, Metrics: []string{}}
		parsed, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
		if err != nil {
			result.Error = err.Error()
		} else {
			for _, selector := range parser.ExtractSelectors(parsed) {
				for _, matcher := range selector {
					if matcher.Name == "__name__" {
						result.Metrics = append(result.Metrics, matcher.Value)
					}
				}
			}
		}
		if err := out.Encode(result); err != nil {
			fail(err.Error())
		}
	}
}

type healthResult struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func runHealth(scriptPath string) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		fail(err.Error())
	}
	var object map[string]any
	if err := json.NewDecoder(os.Stdin).Decode(&object); err != nil {
		fail("the object on stdin: " + err.Error())
	}
	// As Argo CD's util/lua: no libraries but these four (its os is a reduced one; `os` is not opened here,
	// so a script that needs more than package/base/table fails here as it would there).
	state := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer state.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := state.CallByParam(lua.P{Fn: state.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			fail(err.Error())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	state.SetContext(ctx)
	state.SetGlobal("obj", toLua(state, object))
	if err := state.DoString(string(script)); err != nil {
		fail("the health script failed: " + err.Error())
	}
	returned := state.Get(-1)
	if returned.Type() != lua.LTTable {
		fail("the health script returned " + returned.Type().String() + ", not a table")
	}
	encoded, err := luajson.Encode(returned)
	if err != nil {
		fail(err.Error())
	}
	var result healthResult
	if err := json.Unmarshal(encoded, &result); err != nil {
		fail("the returned table is not {status, message}: " + err.Error())
	}
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		fail(err.Error())
	}
}

// toLua converts decoded JSON the way Argo CD hands objects to its scripts: arrays become 1-based
// sequences, objects tables keyed by string, numbers Lua numbers.
func toLua(state *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		table := state.CreateTable(len(v), 0)
		for _, item := range v {
			table.Append(toLua(state, item))
		}
		return table
	case map[string]any:
		table := state.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetH(lua.LString(key), toLua(state, item))
		}
		return table
	}
	return lua.LNil
}
