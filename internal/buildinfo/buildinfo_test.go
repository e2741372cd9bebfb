package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"},
			{Key: "vcs.time", Value: "2026-11-30T19:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	env := func(k string) string {
		if k == DigestEnv {
			return "sha256:feed"
		}
		return ""
	}
	tests := []struct {
		name                   string
		version, commit, built string
		bi                     *debug.BuildInfo
		getenv                 func(string) string
		want                   Info
	}{
		{"stamped wins", "v1.2.3", "deadbeef", "2026-11-30T20:00:00Z", bi, env,
			Info{Version: "v1.2.3", Commit: "deadbeef", BuildTime: "2026-11-30T20:00:00Z", ImageDigest: "sha256:feed", GoVersion: "go1.26.8"}},
		{"toolchain fills the gaps", "", "", "", bi, nil,
			Info{Version: "dev", Commit: "abc123-dirty", BuildTime: "2026-11-30T19:00:00Z", GoVersion: "go1.26.8"}},
		{"module version from go install", "", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, nil,
			Info{Version: "v0.4.0", Commit: "unknown", BuildTime: "unknown"}},
		{"nothing known", "", "", "", nil, nil, Info{Version: "dev", Commit: "unknown", BuildTime: "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := resolve(tt.version, tt.commit, tt.built, tt.bi, tt.getenv); got != tt.want {
				t.Errorf("resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
}
