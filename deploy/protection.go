package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrProtected means destroy stopped before changing anything because some resources refuse
// deletion; Terraform would otherwise delete everything around them and stop half way.
var ErrProtected = errors.New("deletion protection is on")

// rawState is the part of Terraform's state format (version 4, as `terraform state pull`
// prints it) that protectedResources reads.
type rawState struct {
	Resources []struct {
		Module    string `json:"module"`
		Mode      string `json:"mode"`
		Type      string `json:"type"`
		Name      string `json:"name"`
		Instances []struct {
			IndexKey   any            `json:"index_key"`
			Attributes map[string]any `json:"attributes"`
		} `json:"instances"`
	} `json:"resources"`
}

// protectedResources lists the addresses of managed resources whose deletion protection is on:
// deletion_protection true (RDS), enable_deletion_protection true (load balancers) or
// deletion_protection "enabled" (Pinecone indexes). An empty
// state (nothing deployed yet) has none.
func protectedResources(state string) ([]string, error) {
	if strings.TrimSpace(state) == "" {
		return nil, nil
	}
	var st rawState
	if err := json.Unmarshal([]byte(state), &st); err != nil {
		return nil, fmt.Errorf("decode terraform state: %w", err)
	}
	var out []string
	for _, r := range st.Resources {
		if r.Mode != "" && r.Mode != "managed" {
			continue
		}
		for _, inst := range r.Instances {
			flag, ok := inst.Attributes["deletion_protection"]
			if !ok {
				flag = inst.Attributes["enable_deletion_protection"] // load balancers
			}
			switch v := flag.(type) {
			case bool:
				if !v {
					continue
				}
			case string:
				if v != "enabled" {
					continue
				}
			default:
				continue
			}
			addr := r.Type + "." + r.Name
			if r.Module != "" {
				addr = r.Module + "." + addr
			}
			switch k := inst.IndexKey.(type) {
			case string:
				addr += fmt.Sprintf("[%q]", k)
			case float64:
				addr += fmt.Sprintf("[%d]", int(k))
			}
			out = append(out, addr)
		}
	}
	sort.Strings(out)
	return out, nil
}
