// Command esotemplate renders templates with External Secrets Operator's own template engine,
// the package `github.com/external-secrets/external-secrets/pkg/template/v2` at the version
// pinned in scripts/peers.versions. It is keyward's exact reference for templates: the data
// reach the template the way ESO types them (a Secret's `map[string][]byte`, which ESO's
// engine turns into the `map[string]string` a template sees, with `missingkey=error`), and
// the function map is ESO's (its Sprig fork, its toYaml/fromYaml, PEM, PKCS#12 and JWK
// functions). Nothing here reimplements ESO: this wrapper only moves bytes in and out.
//
// Usage:
//
//	esotemplate -batch CASES.json
//	esotemplate -functions
//
// CASES.json holds an array of {"template": TEXT, "data": {KEY: BASE64, ...}}: each value is
// the base64 of the bytes ESO would have fetched, so binary values arrive intact. Every case is
// rendered by `template.Execute` as one `spec.target.template.data` key (scope Values, target
// Data). stdout gets an array, in the same order, of {"output_b64": BASE64} (the bytes ESO
// would write into the Secret) or {"error": MESSAGE}.
//
// -functions prints the sorted JSON array of the names in ESO's function map, so that tests
// know which functions this version of ESO offers.
package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"

	esapi "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	estemplate "github.com/external-secrets/external-secrets/pkg/template/v2"
	corev1 "k8s.io/api/core/v1"
)

// key is the Secret key every case renders into.
const key = "template"

type batchCase struct {
	Template string            `json:"template"`
	Data     map[string]string `json:"data"`
}

type batchResult struct {
	OutputB64 *string `json:"output_b64,omitempty"`
	Error     *string `json:"error,omitempty"`
}

func failed(err error) batchResult {
	msg := err.Error()
	return batchResult{Error: &msg}
}

// renderCase runs one case through ESO's Execute, recovering from a panic inside the engine
// (a hostile template can make Go's fmt or Sprig panic) as a failure of that case alone.
func renderCase(c batchCase) (result batchResult) {
	defer func() {
		if r := recover(); r != nil {
			result = failed(fmt.Errorf("panic: %v", r))
		}
	}()
	data := make(map[string][]byte, len(c.Data))
	for k, v := range c.Data {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return failed(fmt.Errorf("data %q: %w", k, err))
		}
		data[k] = raw
	}
	secret := &corev1.Secret{}
	tpl := map[string][]byte{key: []byte(c.Template)}
	if err := estemplate.Execute(tpl, data, esapi.TemplateScopeValues, esapi.TemplateTargetData, secret); err != nil {
		return failed(err)
	}
	encoded := base64.StdEncoding.EncodeToString(secret.Data[key])
	return batchResult{OutputB64: &encoded}
}

func run() error {
	batchPath := flag.String("batch", "", "path of a JSON array of {template, data} cases")
	functions := flag.Bool("functions", false, "print the names of ESO's template functions")
	flag.Parse()
	if *functions {
		names := make([]string, 0, len(estemplate.FuncMap()))
		for name := range estemplate.FuncMap() {
			names = append(names, name)
		}
		sort.Strings(names)
		return json.NewEncoder(os.Stdout).Encode(names)
	}
	if *batchPath == "" {
		return fmt.Errorf("-batch or -functions is required")
	}
	raw, err := os.ReadFile(*batchPath)
	if err != nil {
		return err
	}
	var cases []batchCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		return fmt.Errorf("batch %s: %w", *batchPath, err)
	}
	results := make([]batchResult, len(cases))
	for i, c := range cases {
		results[i] = renderCase(c)
	}
	return json.NewEncoder(os.Stdout).Encode(results)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
