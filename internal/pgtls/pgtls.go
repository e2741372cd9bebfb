// Package pgtls starts a throwaway PostgreSQL server for tests that need
// what the shared test server lacks: TLS with a certificate from a CA the
// test made, and password (SCRAM) authentication over TCP, which is how RDS
// is reached. Only TLS connections on 127.0.0.1 are accepted.
package pgtls

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running TLS PostgreSQL.
type Server struct {
	Port int
	// CA is the PEM file of the CA that signed the server's certificate;
	// OtherCA is one that did not.
	CA, OtherCA string
	dir         string
}

// Start runs a new server for the test and stops it when the test ends.
// The superuser postgres connects without a password over the server's
// Unix socket (Admin); TCP needs TLS and a password.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binDir(t)
	dir, err := os.MkdirTemp("", "refarch-pgtls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	uid, gid := -1, -1
	if os.Getuid() == 0 {
		// The server refuses to run as root: it runs as postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root without a postgres user (make db creates one): %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	s := &Server{dir: dir, CA: filepath.Join(dir, "ca.pem"), OtherCA: filepath.Join(dir, "other-ca.pem")}
	caCert, caKey := newCA(t, "refarch test CA")
	writePEM(t, s.CA, "CERTIFICATE", caCert.Raw, 0o644, -1, -1)
	other, _ := newCA(t, "some other CA")
	writePEM(t, s.OtherCA, "CERTIFICATE", other.Raw, 0o644, -1, -1)
	leafDER, leafKey := newLeaf(t, caCert, caKey)
	keyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "server.crt"), "CERTIFICATE", leafDER, 0o644, uid, gid)
	writePEM(t, filepath.Join(dir, "server.key"), "EC PRIVATE KEY", keyDER, 0o600, uid, gid)
	if uid >= 0 {
		for _, p := range []string{dir} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	data := filepath.Join(dir, "data")
	run(t, uid, filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8")
	hba := "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Port = freePort(t)
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c ssl=on -c ssl_cert_file=%s -c ssl_key_file=%s",
		s.Port, dir, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	run(t, uid, filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start")
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		asUser(cmd, uid, gid)
		cmd.Run() //nolint:errcheck // best effort at the end of the test
	})
	return s
}

// Admin connects as the superuser over the Unix socket.
func (s *Server) Admin(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", s.dir, s.Port))
	if err != nil {
		t.Fatalf("connect to the TLS test server as postgres: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// URL is a TCP URL for user (no password) with the given sslmode, naming
// host as the server (localhost, which the certificate covers).
func (s *Server) URL(user, sslmode string) string {
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: net.JoinHostPort("localhost", strconv.Itoa(s.Port)), Path: "/postgres"}
	u.RawQuery = url.Values{"sslmode": {sslmode}}.Encode()
	return u.String()
}

func binDir(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	t.Skip("no PostgreSQL server binaries (run `make db`, which installs them)")
	return ""
}

func asUser(cmd *exec.Cmd, uid, gid int) {
	if uid >= 0 {
		cmd.SysProcAttr = sysProcAttr(uid, gid)
	}
}

func run(t testing.TB, uid int, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	gid := -1
	if uid >= 0 {
		u, _ := user.LookupId(strconv.Itoa(uid))
		gid, _ = strconv.Atoi(u.Gid)
	}
	asUser(cmd, uid, gid)
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func newLeaf(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func writePEM(t testing.TB, path, typ string, der []byte, mode os.FileMode, uid, gid int) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
	if uid >= 0 {
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
}
