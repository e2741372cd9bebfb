package app

import (
	"strings"
	"testing"
)

func TestParseRolesAndExcept(t *testing.T) {
	t.Parallel()
	all := Roles{Serve: true, Pelican: true, Emu: true}
	for _, tt := range []struct {
		roles, except, want, err string
	}{
		{roles: "serve,pelican", want: "serve,pelican"},
		{roles: " emu ", want: "emu"},
		{roles: "serve,pelican,emu", want: "serve,pelican,emu"},
		{except: "emu", want: "serve,pelican"},
		{except: "serve,emu", want: "pelican"},
		{roles: "serve,web", err: `unknown role "web"`},
		{roles: "emu,emu", err: "listed twice"},
		{roles: ",", err: "no role"},
		{except: "serve,pelican,emu", err: "leaves no role"},
		{except: "pelcan", err: "unknown role"},
	} {
		var got Roles
		var err error
		if tt.roles != "" {
			got, err = ParseRoles(tt.roles)
		} else {
			got, err = all.Except(tt.except)
		}
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("roles %q except %q: error %v, want one containing %q", tt.roles, tt.except, err, tt.err)
		case tt.err == "" && (err != nil || got.String() != tt.want):
			t.Errorf("roles %q except %q = %s, %v; want %s", tt.roles, tt.except, got, err, tt.want)
		}
	}
}
