package main

// Kinship's image policy, checked on BuildKit's parsed instructions (docs/containers.md).

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// An exact release: major.minor.patch, optionally followed by a variant (3.11.16-slim-trixie).
var exactVersionTag = regexp.MustCompile(`^v?\d+\.\d+\.\d+([.+_-][0-9A-Za-z._-]*)?$`)

var numericUser = regexp.MustCompile(`^(\d+)(:(\d+))?$`)

func policyRuleNames(requireDigest bool) []string {
	pinned := "pinned-base (exact version tag or digest, never latest)"
	if requireDigest {
		pinned = "pinned-base (exact version tag and digest)"
	}
	return []string{
		"check-directive", "multi-stage", pinned, "same-base", "non-root-user",
		"healthcheck", "exec-form", "expose", "python-env", "no-add", "pip-pinned",
		"context-source-exists",
	}
}

func checkPolicy(file string, data []byte, stages []instructions.Stage, requireDigest bool) []Finding {
	var findings []Finding
	add := func(line int, rule, format string, args ...any) {
		findings = append(findings, Finding{file, line, "policy", rule, fmt.Sprintf(format, args...)})
	}

	// check-directive: `docker build` itself must fail on lint warnings, and skip none.
	directive, _, _, found := parser.ParseDirective("check", data)
	if !found {
		add(1, "check-directive", "start the file with `# check=error=true` so `docker build` fails on lint warnings too")
	} else if options, err := linter.ParseLintOptions(directive); err != nil {
		add(1, "check-directive", "invalid check directive %q: %v", directive, err)
	} else {
		if !options.ReturnAsError {
			add(1, "check-directive", "the check directive must set error=true (got %q)", directive)
		}
		if options.SkipAll || len(options.SkipRules) > 0 {
			add(1, "check-directive", "the check directive must not skip rules (got %q)", directive)
		}
	}

	if len(stages) == 0 {
		add(0, "multi-stage", "no build stage")
		return findings
	}
	final := stages[len(stages)-1]
	finalLine := 0
	if len(final.Location) > 0 {
		finalLine = final.Location[0].Start.Line
	}

	// multi-stage: build in one stage, copy the result into a clean final stage.
	stageNames := map[string]bool{}
	for _, stage := range stages[:len(stages)-1] {
		if stage.Name != "" {
			stageNames[strings.ToLower(stage.Name)] = true
		}
	}
	copiesFromBuilder := false
	for _, command := range final.Commands {
		if c, ok := command.(*instructions.CopyCommand); ok && stageNames[strings.ToLower(c.From)] {
			copiesFromBuilder = true
		}
	}
	if len(stages) < 2 || !copiesFromBuilder {
		add(finalLine, "multi-stage", "build in a named builder stage and COPY --from it into the final stage")
	}

	// pinned-base and same-base.
	external := map[string]bool{}
	seen := map[string]bool{}
	for _, stage := range stages {
		line := 0
		if len(stage.Location) > 0 {
			line = stage.Location[0].Start.Line
		}
		base := stage.BaseName
		if seen[strings.ToLower(base)] || base == "scratch" {
			// a previous stage, or the empty image
		} else if strings.Contains(base, "$") {
			add(line, "pinned-base", "base image %q uses a build argument: pin it literally so it can be checked", base)
		} else if named, err := reference.ParseNormalizedNamed(base); err != nil {
			add(line, "pinned-base", "base image %q: %v", base, err)
		} else {
			external[base] = true
			tagged, hasTag := named.(reference.Tagged)
			_, hasDigest := named.(reference.Digested)
			switch {
			case hasTag && tagged.Tag() == "latest":
				add(line, "pinned-base", "base image %q uses the latest tag", base)
			case hasTag && !exactVersionTag.MatchString(tagged.Tag()):
				add(line, "pinned-base", "base image %q: tag %q is not an exact version (major.minor.patch[-variant])", base, tagged.Tag())
			case !hasTag && !hasDigest:
				add(line, "pinned-base", "base image %q has neither a tag nor a digest", base)
			}
			if requireDigest && !hasDigest {
				add(line, "pinned-base", "base image %q is not pinned by digest (docs/containers.md: adding digests)", base)
			}
		}
		if stage.Name != "" {
			seen[strings.ToLower(stage.Name)] = true
		}
	}
	if len(external) > 1 {
		bases := make([]string, 0, len(external))
		for base := range external {
			bases = append(bases, base)
		}
		add(finalLine, "same-base", "builder and runtime stages must use one base image (the virtual environment links to its interpreter): %s", strings.Join(bases, ", "))
	}

	// Final-stage rules.
	var lastUser *instructions.UserCommand
	var health *instructions.HealthCheckCommand
	var starts []instructions.Command
	exposed := false
	env := map[string]string{}
	for _, command := range final.Commands {
		switch c := command.(type) {
		case *instructions.UserCommand:
			lastUser = c
		case *instructions.HealthCheckCommand:
			health = c
		case *instructions.CmdCommand, *instructions.EntrypointCommand:
			starts = append(starts, c)
		case *instructions.ExposeCommand:
			exposed = exposed || len(c.Ports) > 0
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				env[kv.Key] = kv.Value
			}
		}
	}

	// non-root-user: the last USER of the final stage is a fixed, non-zero numeric uid.
	if lastUser == nil {
		add(finalLine, "non-root-user", "the final stage has no USER: the container would run as root")
	} else if lastUser.User == "root" || strings.HasPrefix(lastUser.User, "root:") {
		add(lineOf(lastUser), "non-root-user", "USER %q: the container would run as root", lastUser.User)
	} else if m := numericUser.FindStringSubmatch(lastUser.User); m == nil {
		add(lineOf(lastUser), "non-root-user", "USER %q: use a fixed numeric uid[:gid] (names cannot be verified by Kubernetes runAsNonRoot)", lastUser.User)
	} else if m[1] == "0" || m[3] == "0" {
		add(lineOf(lastUser), "non-root-user", "USER %q is root", lastUser.User)
	}

	// healthcheck: present, enabled, exec form (slim images have no shell tools to rely on).
	switch {
	case health == nil:
		add(finalLine, "healthcheck", "the final stage has no HEALTHCHECK")
	case health.Health == nil || len(health.Health.Test) == 0 || health.Health.Test[0] == "NONE":
		add(lineOf(health), "healthcheck", "HEALTHCHECK NONE disables the health check")
	case health.Health.Test[0] != "CMD":
		add(lineOf(health), "healthcheck", "use the exec form HEALTHCHECK CMD [\"...\"]")
	}

	// exec-form: the process is PID 1 and gets SIGTERM itself, no `sh -c` in between.
	if len(starts) == 0 {
		add(finalLine, "exec-form", "the final stage has neither ENTRYPOINT nor CMD")
	}
	for _, command := range starts {
		shellForm := false
		switch c := command.(type) {
		case *instructions.CmdCommand:
			shellForm = c.PrependShell
		case *instructions.EntrypointCommand:
			shellForm = c.PrependShell
		}
		if shellForm {
			add(lineOf(command), "exec-form", "%s in shell form: use the JSON (exec) form so SIGTERM reaches the process", strings.ToUpper(command.Name()))
		}
	}

	if !exposed {
		add(finalLine, "expose", "the final stage EXPOSEs no port")
	}

	// python-env: on Python bases, no .pyc writes at run time and unbuffered logs.
	if isPythonBase(final.BaseName, stages) {
		for _, key := range []string{"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"} {
			if env[key] != "1" {
				add(finalLine, "python-env", "the final stage must set ENV %s=1", key)
			}
		}
	}

	// no-add and pip-pinned, every stage (hadolint DL3020, DL3013, DL3042).
	for _, stage := range stages {
		for _, command := range stage.Commands {
			switch c := command.(type) {
			case *instructions.AddCommand:
				add(lineOf(c), "no-add", "use COPY instead of ADD (ADD fetches URLs and unpacks archives)")
			case *instructions.RunCommand:
				for _, problem := range pipProblems(strings.Join(c.CmdLine, " ")) {
					add(lineOf(c), "pip-pinned", "%s", problem)
				}
			}
		}
	}
	return findings
}

func isPythonBase(base string, stages []instructions.Stage) bool {
	for _, stage := range stages {
		if stage.Name != "" && strings.EqualFold(stage.Name, base) {
			return isPythonBase(stage.BaseName, stages)
		}
	}
	named, err := reference.ParseNormalizedNamed(base)
	return err == nil && reference.Path(named) == "library/python"
}

// pipProblems finds unpinned or cached `pip install`s in a shell command line.
func pipProblems(cmdline string) []string {
	var problems []string
	for _, segment := range regexp.MustCompile(`&&|\|\||;|\|`).Split(cmdline, -1) {
		fields := strings.Fields(segment)
		index := -1
		for i := 0; i+1 < len(fields); i++ {
			if strings.HasSuffix(fields[i], "pip") || strings.HasSuffix(fields[i], "pip3") {
				if fields[i+1] == "install" {
					index = i + 2
				}
			}
		}
		if index < 0 {
			continue
		}
		noCache := false
		for i := index; i < len(fields); i++ {
			arg := strings.Trim(fields[i], `"'`)
			switch {
			case arg == "--no-cache-dir":
				noCache = true
			case arg == "-r" || arg == "--requirement" || arg == "-c" || arg == "--constraint":
				i++ // a requirements file pins its own versions
			case strings.HasPrefix(arg, "-"):
			case strings.Contains(arg, "=="), strings.HasPrefix(arg, "/"), strings.HasPrefix(arg, "."):
			default:
				problems = append(problems, fmt.Sprintf("pip install %s: pin an exact version (name==version)", arg))
			}
		}
		if !noCache {
			problems = append(problems, "pip install without --no-cache-dir leaves pip's cache in the layer")
		}
	}
	return problems
}
