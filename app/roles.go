package app

import (
	"fmt"
	"slices"
	"strings"
)

// RoleNames are the roles a process can run, in start order.
var RoleNames = []string{"serve", "pelican", "emu"}

// ParseRoles reads a comma-separated list of role names (serve, pelican,
// emu). An unknown or repeated name is an error that lists the valid ones.
func ParseRoles(list string) (Roles, error) {
	var r Roles
	seen := map[string]bool{}
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			continue
		case !slices.Contains(RoleNames, name):
			return Roles{}, fmt.Errorf("unknown role %q: want a comma-separated list of %s", name, strings.Join(RoleNames, ", "))
		case seen[name]:
			return Roles{}, fmt.Errorf("role %q is listed twice", name)
		}
		seen[name] = true
		r.set(name, true)
	}
	if r == (Roles{}) {
		return Roles{}, fmt.Errorf("no role in %q: want a comma-separated list of %s", list, strings.Join(RoleNames, ", "))
	}
	return r, nil
}

// Except returns r without the roles in list.
func (r Roles) Except(list string) (Roles, error) {
	drop, err := ParseRoles(list)
	if err != nil {
		return Roles{}, err
	}
	out := Roles{Serve: r.Serve && !drop.Serve, Pelican: r.Pelican && !drop.Pelican, Emu: r.Emu && !drop.Emu}
	if out == (Roles{}) {
		return Roles{}, fmt.Errorf("--except %s leaves no role to run", list)
	}
	return out, nil
}

func (r *Roles) set(name string, on bool) {
	switch name {
	case "serve":
		r.Serve = on
	case "pelican":
		r.Pelican = on
	case "emu":
		r.Emu = on
	}
}

// String lists the roles, comma-separated.
func (r Roles) String() string {
	var names []string
	for _, n := range RoleNames {
		if (n == "serve" && r.Serve) || (n == "pelican" && r.Pelican) || (n == "emu" && r.Emu) {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}
