package deploy

import (
	"slices"
	"testing"
)

func TestProtectedResources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, state string
		want        []string
		wantErr     bool
	}{
		{"nothing deployed", "", nil, false},
		{"no resources", `{"version":4,"resources":[]}`, nil, false},
		{"protected database, index and load balancer", `{"version":4,"resources":[
			{"module":"module.database","mode":"managed","type":"aws_db_instance","name":"this","instances":[{"attributes":{"deletion_protection":true}}]},
			{"module":"module.pinecone_index[0]","mode":"managed","type":"pinecone_index","name":"this","instances":[{"attributes":{"deletion_protection":"enabled"}}]},
			{"module":"module.loadbalancer","mode":"managed","type":"aws_lb","name":"this","instances":[{"attributes":{"enable_deletion_protection":true}}]},
			{"mode":"managed","type":"aws_db_instance","name":"other","instances":[{"index_key":1,"attributes":{"deletion_protection":true}},{"index_key":"b","attributes":{"deletion_protection":true}}]}
		]}`, []string{`aws_db_instance.other["b"]`, "aws_db_instance.other[1]", "module.database.aws_db_instance.this", "module.loadbalancer.aws_lb.this", "module.pinecone_index[0].pinecone_index.this"}, false},
		{"protection lifted", `{"version":4,"resources":[
			{"module":"module.database","mode":"managed","type":"aws_db_instance","name":"this","instances":[{"attributes":{"deletion_protection":false}}]},
			{"mode":"managed","type":"pinecone_index","name":"this","instances":[{"attributes":{"deletion_protection":"disabled"}}]},
			{"mode":"data","type":"aws_db_instance","name":"read","instances":[{"attributes":{"deletion_protection":true}}]}
		]}`, nil, false},
		{"not json", "{", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := protectedResources(tt.state)
			if (err != nil) != tt.wantErr {
				t.Fatalf("protectedResources: %v, want error %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("protected %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzProtectedResources(f *testing.F) {
	f.Add(`{"resources":[{"type":"aws_db_instance","name":"x","instances":[{"attributes":{"deletion_protection":true}}]}]}`)
	f.Add(`{"resources":[{"instances":[{"index_key":1e300,"attributes":{"deletion_protection":"enabled"}}]}]}`)
	f.Add("")
	// A state of any shape, corrupted or from another Terraform version, must give an error or a
	// list, never a panic; the list's contents are checked by TestProtectedResources.
	f.Fuzz(func(t *testing.T, state string) {
		protectedResources(state) // only a panic fails
	})
}
