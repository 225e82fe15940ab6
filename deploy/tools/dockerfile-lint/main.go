// Command dockerfile-lint checks Dockerfiles without a Docker engine.
//
// It runs BuildKit's own Dockerfile frontend in lint mode (dockerfile2llb.DockerfileLint, the
// code behind `docker build --check`) with an offline image resolver, so every rule of
// BuildKit's built-in linter applies exactly as in a real build. Rules BuildKit can only
// evaluate with a build context attached (CopyIgnoredFile) are evaluated here with BuildKit's
// own pattern matcher against the context's .dockerignore. Then Kinship's image policy runs
// on the parsed instructions (see policy.go and docs/containers.md).
//
// Usage:
//
//	dockerfile-lint [-context DIR] [-require-digest] [-platform linux/amd64]
//	  [-build-args NAME=VALUE[,NAME=VALUE...]]... Dockerfile...
//
// Each -build-args names one build's arguments (what `docker build --build-arg` would pass);
// every Dockerfile is checked once per build so given, with the arguments applied (BuildKit's
// rules and the paths copied from the context), or once without arguments when none is given.
// It prints what it checked and every finding as `file:line: [source] rule: message`, and
// exits 1 when there is any finding (a warning is a failure), 2 on a usage error.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Finding is one problem in one Dockerfile.
type Finding struct {
	File    string
	Line    int
	Source  string // "buildkit" or "policy"
	Rule    string
	Message string
}

func (f Finding) String() string {
	location := f.File
	if f.Line > 0 {
		location = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return fmt.Sprintf("%s: [%s] %s: %s", location, f.Source, f.Rule, f.Message)
}

// offlineResolver answers BuildKit's base-image lookups without a registry: an image of the
// requested platform with one layer and only PATH set. BuildKit needs the config to finish
// the conversion; no rule depends on the real contents except variables a base image
// defines, which Kinship's Dockerfiles do not rely on (UndefinedVar would report them).
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(
	_ context.Context, ref string, opt sourceresolver.Opt,
) (string, digest.Digest, []byte, error) {
	platform := platforms.DefaultSpec()
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		platform = *opt.ImageOpt.Platform
	}
	config := map[string]any{
		"architecture": platform.Architecture,
		"os":           platform.OS,
		"variant":      platform.Variant,
		"rootfs": map[string]any{
			"type":     "layers",
			"diff_ids": []string{digest.FromString(ref).String()},
		},
		"config": map[string]any{
			"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
	}
	data, err := json.Marshal(config)
	return ref, "", data, err
}

func buildkitVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/moby/buildkit" {
			return dep.Version
		}
	}
	return "unknown"
}

// lintWithBuildKit runs BuildKit's linter, as `docker build --check` does.
func lintWithBuildKit(ctx context.Context, file string, data []byte, platform ocispecs.Platform, args map[string]string) ([]Finding, error) {
	// As BuildKit's frontend does: the Dockerfile comes from a local source named dockerfile.
	source := llb.Local("dockerfile")
	definition, err := source.Marshal(ctx)
	if err != nil {
		return nil, err
	}
	sourceMap := llb.NewSourceMap(&source, file, "Dockerfile", data)
	sourceMap.Definition = definition
	results, err := dockerfile2llb.DockerfileLint(ctx, data, dockerfile2llb.ConvertOpt{
		Config:         dockerui.Config{TargetPlatforms: []ocispecs.Platform{platform}, BuildArgs: args},
		SourceMap:      sourceMap,
		TargetPlatform: &platform,
		MetaResolver:   offlineResolver{},
	})
	if err != nil {
		return nil, err
	}
	var findings []Finding
	for _, warning := range results.Warnings {
		line := 0
		if warning.Location != nil && len(warning.Location.Ranges) > 0 {
			line = int(warning.Location.Ranges[0].Start.Line)
		}
		message := warning.Detail
		if warning.URL != "" {
			message += " (" + warning.URL + ")"
		}
		findings = append(findings, Finding{file, line, "buildkit", warning.RuleName, message})
	}
	if results.Error != nil {
		// With `# check=error=true` BuildKit also returns the warnings as one error.
		if len(findings) == 0 || !strings.HasPrefix(results.Error.Message, "lint violation found") {
			line := 0
			if len(results.Error.Location.Ranges) > 0 {
				line = int(results.Error.Location.Ranges[0].Start.Line)
			}
			findings = append(findings, Finding{file, line, "buildkit", "BuildError", results.Error.Message})
		}
	}
	return findings, nil
}

// loadDockerignore reads the build context's .dockerignore (nil when there is none).
func loadDockerignore(contextDir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(contextDir, ".dockerignore"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return patternmatcher.New(patterns)
}

// checkContextSources evaluates BuildKit's CopyIgnoredFile rule (which BuildKit applies only
// with a build context attached) the way BuildKit does, and checks that every path copied
// from the context exists in it. Build arguments in a path are expanded with args as BuildKit
// would; a path that names an argument args does not give is not checked.
func checkContextSources(file string, stages []instructions.Stage, contextDir string, ignore *patternmatcher.PatternMatcher, args map[string]string) []Finding {
	lex := shell.NewLex('\\')
	env := make([]string, 0, len(args))
	for name, value := range args {
		env = append(env, name+"="+value)
	}
	var findings []Finding
	for _, stage := range stages {
		for _, command := range stage.Commands {
			var sources []string
			verb := ""
			switch c := command.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					continue
				}
				sources, verb = c.SourcePaths, "Copy"
			case *instructions.AddCommand:
				sources, verb = c.SourcePaths, "Add"
			default:
				continue
			}
			line := lineOf(command)
			for _, source := range sources {
				if strings.Contains(source, "://") {
					continue
				}
				if strings.Contains(source, "$") {
					expanded, unmatched, err := lex.ProcessWord(source, shell.EnvsFromSlice(env))
					if err != nil || len(unmatched) > 0 {
						continue
					}
					source = expanded
				}
				clean := filepath.ToSlash(filepath.Clean(source))
				// Same rule and exemptions as BuildKit's validateCopySourcePath.
				if ignore != nil && !ignore.Exclusions() && clean != "." && clean != "/" {
					matched, err := ignore.MatchesOrParentMatches(clean)
					if err == nil && matched {
						findings = append(findings, Finding{file, line, "buildkit", "CopyIgnoredFile",
							fmt.Sprintf("Attempting to %s file %q that is excluded by .dockerignore "+
								"(https://docs.docker.com/go/dockerfile/rule/copy-ignored-file/)", verb, clean)})
					}
				}
				matches, err := filepath.Glob(filepath.Join(contextDir, clean))
				if err != nil || len(matches) == 0 {
					findings = append(findings, Finding{file, line, "policy", "context-source-exists",
						fmt.Sprintf("%s source %q does not exist in the build context %s", strings.ToUpper(verb), clean, contextDir)})
				}
			}
		}
	}
	return findings
}

type locatable interface{ Location() []parser.Range }

func lineOf(command any) int {
	if c, ok := command.(locatable); ok {
		if ranges := c.Location(); len(ranges) > 0 {
			return ranges[0].Start.Line
		}
	}
	return 0
}

// buildArgsFlag collects -build-args: one map of arguments per build to check.
type buildArgsFlag []map[string]string

func (b *buildArgsFlag) String() string { return fmt.Sprint(*b) }

func (b *buildArgsFlag) Set(value string) error {
	args := map[string]string{}
	for _, pair := range strings.Split(value, ",") {
		name, arg, ok := strings.Cut(pair, "=")
		if !ok || name == "" {
			return fmt.Errorf("%q: want NAME=VALUE[,NAME=VALUE...]", value)
		}
		args[name] = arg
	}
	*b = append(*b, args)
	return nil
}

// label names a Dockerfile and the build arguments it is checked with.
func label(file string, args map[string]string) string {
	if len(args) == 0 {
		return file
	}
	pairs := make([]string, 0, len(args))
	for name, value := range args {
		pairs = append(pairs, name+"="+value)
	}
	sort.Strings(pairs)
	return fmt.Sprintf("%s (%s)", file, strings.Join(pairs, " "))
}

// lintFile runs BuildKit's linter, the context checks and the policy on one build of a file.
func lintFile(ctx context.Context, file string, data []byte, platform ocispecs.Platform, args map[string]string, contextDir string, ignore *patternmatcher.PatternMatcher, requireDigest bool) ([]Finding, error) {
	findings, err := lintWithBuildKit(ctx, file, data, platform, args)
	if err != nil {
		return nil, err
	}
	ast, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		findings = append(findings, Finding{file, 0, "buildkit", "ParseError", err.Error()})
	} else if stages, _, err := instructions.Parse(ast.AST, nil); err != nil {
		findings = append(findings, Finding{file, 0, "buildkit", "ParseError", err.Error()})
	} else {
		findings = append(findings, checkContextSources(file, stages, contextDir, ignore, args)...)
		findings = append(findings, checkPolicy(file, data, stages, requireDigest)...)
	}
	sort.SliceStable(findings, func(i, j int) bool { return findings[i].Line < findings[j].Line })
	return findings, nil
}

func main() {
	var builds buildArgsFlag
	flag.Var(&builds, "build-args", "one build's arguments, NAME=VALUE[,NAME=VALUE...]; repeat for each build to check")
	contextDir := flag.String("context", ".", "build context (the repository root); its .dockerignore is applied")
	requireDigest := flag.Bool("require-digest", false, "require every base image to be pinned by digest too")
	platformFlag := flag.String("platform", "linux/amd64", "target platform for the lint conversion")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: dockerfile-lint [-context DIR] [-require-digest] [-platform P] [-build-args NAME=VALUE,...]... Dockerfile...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	platform, err := platforms.Parse(*platformFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dockerfile-lint: -platform: %v\n", err)
		os.Exit(2)
	}
	ignore, err := loadDockerignore(*contextDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dockerfile-lint: .dockerignore: %v\n", err)
		os.Exit(2)
	}

	fmt.Printf("dockerfile-lint: BuildKit %s Dockerfile linter (the rules of `docker build --check`, experimental ones as each file's check directive asks), CopyIgnoredFile against %s/.dockerignore, Kinship image policy: %s\n",
		buildkitVersion(), *contextDir, strings.Join(policyRuleNames(*requireDigest), ", "))

	if len(builds) == 0 {
		builds = buildArgsFlag{nil}
	}
	ctx := context.Background()
	total, checked := 0, 0
	for _, file := range flag.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "dockerfile-lint: %v\n", err)
			os.Exit(2)
		}
		for _, args := range builds {
			name := label(file, args)
			findings, err := lintFile(ctx, file, data, platform, args, *contextDir, ignore, *requireDigest)
			if err != nil {
				fmt.Fprintf(os.Stderr, "dockerfile-lint: %s: %v\n", name, err)
				os.Exit(2)
			}
			checked++
			if len(findings) == 0 {
				fmt.Printf("  ok    %s\n", name)
				continue
			}
			fmt.Printf("  FAIL  %s (%d)\n", name, len(findings))
			for _, finding := range findings {
				fmt.Printf("        %s\n", finding)
			}
			total += len(findings)
		}
	}
	if total > 0 {
		fmt.Printf("dockerfile-lint: %d problem(s) in %d build(s) of %d Dockerfile(s)\n", total, checked, flag.NArg())
		os.Exit(1)
	}
	fmt.Printf("dockerfile-lint: %d build(s) of %d Dockerfile(s), no problems\n", checked, flag.NArg())
}
