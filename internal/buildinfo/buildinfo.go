// Package buildinfo says which build of refarch is running: the version, commit and build time
// stamped by the linker (`make build` and the Dockerfile pass them with -ldflags -X), else what the
// Go toolchain recorded in the binary, and the image digest that the task definition names, so
// that a release can check that the tasks answering are the ones it deployed.
package buildinfo

import (
	"runtime/debug"
)

// Stamped by the linker: -ldflags "-X github.com/refarch/refarch/internal/buildinfo.version=v1.2.3 ...".
// They are package variables because -X can set nothing else; nothing writes them at run time.
var (
	version   string
	commit    string
	buildTime string
)

// DigestEnv is the environment variable the task definition sets to the deployed image's digest.
const DigestEnv = "REFARCH_IMAGE_DIGEST"

// Info is what `refarch version` prints and GET /version returns.
type Info struct {
	Version     string `json:"version"`
	Commit      string `json:"commit"`
	BuildTime   string `json:"build_time"`
	ImageDigest string `json:"image_digest,omitempty"`
	GoVersion   string `json:"go_version"`
}

// Get reads the stamped values, falls back to the build information the Go toolchain embeds
// (module version, vcs.revision, vcs.time) for whatever was not stamped, and takes the image
// digest from getenv.
func Get(getenv func(string) string) Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, commit, buildTime, bi, getenv)
}

func resolve(version, commit, buildTime string, bi *debug.BuildInfo, getenv func(string) string) Info {
	info := Info{Version: version, Commit: commit, BuildTime: buildTime}
	if bi != nil {
		info.GoVersion = bi.GoVersion
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if info.BuildTime == "" {
					info.BuildTime = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && info.Commit != "" {
			info.Commit += "-dirty"
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	if info.BuildTime == "" {
		info.BuildTime = "unknown"
	}
	if getenv != nil {
		info.ImageDigest = getenv(DigestEnv)
	}
	return info
}
