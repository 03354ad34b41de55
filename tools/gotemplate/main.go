// Command gotemplate renders one Go text/template with the Sprig v3 function map, the way
// External Secrets Operator exposes it (Sprig's text functions minus env, expandenv and
// getHostByName). It is keyward's reference renderer: tests compare keyward's own template
// engine against it byte for byte.
//
// Usage:
//
//	gotemplate -template FILE [-data FILE.json]
//
// The data file holds a JSON object; it becomes the template's dot. Output goes to stdout.
// A parse or execution error is printed on one line to stderr and the exit code is 1.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// removedByESO lists the Sprig functions External Secrets Operator deletes from the map it
// hands to templates, because they would read the controller's environment or the network.
var removedByESO = []string{"env", "expandenv", "getHostByName"}

func funcMap() template.FuncMap {
	fm := sprig.TxtFuncMap()
	for _, name := range removedByESO {
		delete(fm, name)
	}
	return fm
}

func run() error {
	templatePath := flag.String("template", "", "path of the template to render (required)")
	dataPath := flag.String("data", "", "path of a JSON object used as the template's data")
	flag.Parse()
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
	tmpl, err := template.New("template").Option("missingkey=error").Funcs(funcMap()).Parse(string(text))
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, data); err != nil {
		return err
	}
	_, err = os.Stdout.Write(out.Bytes())
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
