// Command gotemplate renders one Go text/template with the Sprig v3 function map, the way
// External Secrets Operator exposes it (Sprig's text functions minus env, expandenv and
// getHostByName, plus ESO's toYaml, fromYaml, filterPEM and its certificate functions in
// eso_crypto.go). It is keyward's second reference renderer: ESO's own template package
// (tools/esotemplate) is the first, and this one covers only what that package cannot do:
// data of other Go types than ESO's map[string]string (the values fromJson, fromYaml, list and
// dict make) and the functions newer ESO versions added. It builds Sprig from ESO's fork, as
// ESO does.
//
// Usage:
//
//	gotemplate -template FILE [-data FILE.json]
//	gotemplate -batch CASES.json
//	gotemplate -template FILE -data FILE.json -repeat N
//	gotemplate -batch CASES.json -test-helpers
//
// The data file holds a JSON object; it becomes the template's dot. Output goes to stdout.
// A parse or execution error is printed on one line to stderr and the exit code is 1.
//
// Batch mode renders many cases in one process: CASES.json holds an array of
// {"template": TEXT, "data": OBJECT}; stdout gets an array, in the same order, of
// {"output_b64": BASE64} (the rendered bytes) or {"error": MESSAGE}.
//
// With -test-helpers the map also has keyward's test-only readers, which ESO never offers:
// decodeTrustStorePass PASSWORD DATA (go-pkcs12's DecodeTrustStore, as PEM), certInfo CERT
// (what Sprig's generators put in a certificate, as one line), checkSignedBy CERT CA and
// checkKeyPair CERT KEY ("ok" or an error). They check the keys, certificates and trust
// stores keyward writes.
//
// With -repeat N the template is parsed and executed N times (as ESO does for every
// reconcile) and the output of the last run is printed; benchmarks time this.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

// removedByESO lists the Sprig functions External Secrets Operator deletes from the map it
// hands to templates, because they would read the controller's environment or the network.
var removedByESO = []string{"env", "expandenv", "getHostByName"}

// testHelpers is set by -test-helpers.
var testHelpers bool

func funcMap() template.FuncMap {
	fm := sprig.TxtFuncMap()
	if testHelpers {
		fm["decodeTrustStorePass"] = decodeTrustStorePass
		fm["certInfo"] = certInfo
		fm["checkSignedBy"] = checkSignedBy
		fm["checkKeyPair"] = checkKeyPair
	}
	for _, name := range removedByESO {
		delete(fm, name)
	}
	fm["toYaml"] = toYAML
	fm["fromYaml"] = fromYAML
	fm["filterPEM"] = filterPEM
	for name, fn := range esoCryptoFuncs() {
		fm[name] = fn
	}
	return fm
}

// toYAML is ESO's toYaml, written from its documented behaviour: sigs.k8s.io/yaml's Marshal
// (JSON first, then YAML), the final newline trimmed, and an empty string on error.
func toYAML(v any) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

// filterPEM is ESO's filterPEM as its documentation describes it, on Go's encoding/pem (the
// library ESO uses): the blocks whose type matches (ignoring case), re-encoded; an error only
// when nothing matched and undecodable text is left.
func filterPEM(kind, input string) (string, error) {
	rest := []byte(input)
	var out bytes.Buffer
	for {
		block, next := pem.Decode(rest)
		rest = next
		if block == nil {
			break
		}
		if strings.EqualFold(block.Type, kind) {
			if err := pem.Encode(&out, block); err != nil {
				return "", err
			}
		}
	}
	if out.Len() == 0 && len(rest) != 0 {
		return "", errors.New("error filtering pem: found junk")
	}
	return out.String(), nil
}

// fromYAML is ESO's fromYaml: a YAML document decoded into a map; a decoding error is stored
// under the key "Error" instead of failing the template.
func fromYAML(text string) map[string]any {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(text), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func render(text string, data map[string]any) ([]byte, error) {
	tmpl, err := template.New("template").Option("missingkey=error").Funcs(funcMap()).Parse(text)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, data); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

type batchCase struct {
	Template string          `json:"template"`
	Data     json.RawMessage `json:"data"`
}

type batchResult struct {
	OutputB64 *string `json:"output_b64,omitempty"`
	Error     *string `json:"error,omitempty"`
}

func renderCase(c batchCase) batchResult {
	data := map[string]any{}
	if len(c.Data) > 0 {
		if err := json.Unmarshal(c.Data, &data); err != nil {
			msg := "data: " + err.Error()
			return batchResult{Error: &msg}
		}
	}
	out, err := render(c.Template, data)
	if err != nil {
		msg := err.Error()
		return batchResult{Error: &msg}
	}
	encoded := base64.StdEncoding.EncodeToString(out)
	return batchResult{OutputB64: &encoded}
}

func runBatch(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cases []batchCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		return fmt.Errorf("batch %s: %w", path, err)
	}
	results := make([]batchResult, len(cases))
	for i, c := range cases {
		results[i] = renderCase(c)
	}
	return json.NewEncoder(os.Stdout).Encode(results)
}

func run() error {
	templatePath := flag.String("template", "", "path of the template to render (required)")
	dataPath := flag.String("data", "", "path of a JSON object used as the template's data")
	batchPath := flag.String("batch", "", "path of a JSON array of {template, data} cases")
	repeat := flag.Int("repeat", 1, "parse and render this many times (for benchmarks)")
	flag.BoolVar(&testHelpers, "test-helpers", false, "add keyward's test-only functions")
	flag.Parse()
	if *batchPath != "" {
		return runBatch(*batchPath)
	}
	if *templatePath == "" {
		return fmt.Errorf("-template is required")
	}
	text, err := os.ReadFile(*templatePath)
	if err != nil {
		return err
	}
	data := map[string]any{}
	if *dataPath != "" {
		raw, err := os.ReadFile(*dataPath)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &data); err != nil {
			return fmt.Errorf("data %s: %w", *dataPath, err)
		}
	}
	var out []byte
	for i := 0; i < *repeat; i++ {
		out, err = render(string(text), data)
		if err != nil {
			return err
		}
	}
	_, err = os.Stdout.Write(out)
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
