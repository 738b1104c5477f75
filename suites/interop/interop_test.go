// Package interop proves that independent SAML software accepts the mock
// IdP's responses: Apache with mod_auth_mellon (Debian) signs users in
// with them, and xmlsec1 verifies their signatures. The test installs
// nothing: it skips, saying what is missing, unless apache2,
// mod_auth_mellon, mellon_create_metadata and xmlsec1 are installed
// (.ci/run installs them). Run: go test ./suites/interop/ -v.
//
// Every spec is labelled interop (--label-filter=interop).
package interop_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/fixtures"
	"github.com/hmpconform/hmpconform/mockidp"
)

const (
	apacheBin   = "/usr/sbin/apache2"
	mellonMod   = "/usr/lib/apache2/modules/mod_auth_mellon.so"
	modulesDir  = "/usr/lib/apache2/modules"
	installHint = "apt-get install -y apache2 libapache2-mod-auth-mellon xmlsec1"
)

// requirePeers skips the test, naming what is missing, unless the peers
// are installed.
func requirePeers(t testingT) (mellonCreate, xmlsec string) {
	t.Helper()
	var missing []string
	for _, f := range []string{apacheBin, mellonMod} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	mellonCreate, err := exec.LookPath("mellon_create_metadata")
	if err != nil {
		missing = append(missing, "mellon_create_metadata")
	}
	xmlsec, err = exec.LookPath("xmlsec1")
	if err != nil {
		missing = append(missing, "xmlsec1")
	}
	if len(missing) > 0 {
		t.Skipf("interop: skipped, the peers are not installed (missing %s); install them with: %s", strings.Join(missing, ", "), installHint)
	}
	return mellonCreate, xmlsec
}

func freePort(t testingT) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// idp is the mock IdP served over plain HTTP on loopback.
type idp struct {
	srv     *mockidp.Server
	base    string
	certPEM string
}

func startIdP(t testingT) *idp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	key, cert, err := mockidp.LoadOrCreateKeyPair(t.TempDir(), time.Now(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	personas, err := fixtures.Personas()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base)
	s, err := mockidp.New(mockidp.Config{
		BaseURL: u, Key: key, Certificate: cert, Personas: personas,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return &idp{srv: s, base: base, certPEM: s.CertificatePEM()}
}

// mellon is Apache + mod_auth_mellon on loopback.
type mellon struct {
	base, entityID string
	dir            string
	spMetadata     []byte
	spKey          string
}

const apacheConf = `ServerRoot "{{DIR}}"
ServerName 127.0.0.1
Listen 127.0.0.1:{{PORT}}
{{USER}}
PidFile "{{DIR}}/apache.pid"
DefaultRuntimeDir "{{DIR}}/run"
ErrorLog "{{DIR}}/error.log"
LogLevel info
LogFormat "%h %l %u %t \"%r\" %>s %b" common
CustomLog "{{DIR}}/access.log" common
LoadModule mpm_event_module {{MODS}}/mod_mpm_event.so
LoadModule authn_core_module {{MODS}}/mod_authn_core.so
LoadModule authz_core_module {{MODS}}/mod_authz_core.so
LoadModule authz_user_module {{MODS}}/mod_authz_user.so
LoadModule mime_module {{MODS}}/mod_mime.so
TypesConfig /dev/null
LoadModule dir_module {{MODS}}/mod_dir.so
LoadModule headers_module {{MODS}}/mod_headers.so
LoadModule auth_mellon_module {{MODS}}/mod_auth_mellon.so
MellonPostDirectory "{{DIR}}/post"
DocumentRoot "{{DIR}}/htdocs"
<Directory "{{DIR}}/htdocs">
  Require all granted
</Directory>
<Location />
  MellonEnable info
  MellonEndpointPath /mellon
  MellonSPentityId "{{ENTITY}}"
  MellonSPPrivateKeyFile "{{DIR}}/sp.key"
  MellonSPCertFile "{{DIR}}/sp.cert"
  MellonSPMetadataFile "{{DIR}}/sp.xml"
  MellonIdPMetadataFile "{{DIR}}/idp.xml"
  MellonSecureCookie Off
</Location>
<Location /secret>
  MellonEnable auth
  AuthType Mellon
  Require valid-user
  Header always set X-Mellon-NameID "%{MELLON_NAME_ID}e"
</Location>
`

func startMellon(t testingT, mellonCreate string, idpMetadata []byte) *mellon {
	t.Helper()
	dir, err := os.MkdirTemp("", "hmpconform-mellon-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	port := freePort(t)
	m := &mellon{base: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir}
	m.entityID = m.base + "/mellon/metadata"

	gen := filepath.Join(dir, "gen")
	for _, d := range []string{gen, filepath.Join(dir, "run"), filepath.Join(dir, "post"), filepath.Join(dir, "htdocs", "secret")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(mellonCreate, m.entityID, m.base+"/mellon")
	cmd.Dir = gen
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mellon_create_metadata: %v\n%s", err, out)
	}
	for ext, name := range map[string]string{".key": "sp.key", ".cert": "sp.cert", ".xml": "sp.xml"} {
		matches, _ := filepath.Glob(filepath.Join(gen, "*"+ext))
		if len(matches) != 1 {
			t.Fatalf("mellon_create_metadata made %v for *%s", matches, ext)
		}
		b, err := os.ReadFile(matches[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil { // readable by www-data
			t.Fatal(err)
		}
	}
	m.spMetadata, _ = os.ReadFile(filepath.Join(dir, "sp.xml"))
	m.spKey = filepath.Join(dir, "sp.key")
	if err := os.WriteFile(filepath.Join(dir, "idp.xml"), idpMetadata, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htdocs", "secret", "index.html"), []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "User www-data\nGroup www-data"
		_ = os.Chmod(dir, 0o755)
		if out, err := exec.Command("chown", "-R", "www-data:www-data", filepath.Join(dir, "post"), filepath.Join(dir, "sp.key")).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	conf := strings.NewReplacer("{{DIR}}", dir, "{{PORT}}", fmt.Sprint(port), "{{USER}}", user, "{{MODS}}", modulesDir, "{{ENTITY}}", m.entityID).Replace(apacheConf)
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ap := exec.Command(apacheBin, "-f", confPath, "-DFOREGROUND")
	var out bytes.Buffer
	ap.Stdout, ap.Stderr = &out, &out
	if err := ap.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- ap.Wait() }()
	t.Cleanup(func() {
		_ = ap.Process.Signal(os.Interrupt) // graceful-stop of the foreground parent
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = ap.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("apache error.log:\n%s", b)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("apache exited: %v\n%s\n%s", err, out.String(), b)
		default:
		}
		resp, err := http.Get(m.base + "/mellon/metadata")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("apache did not answer on %s: %v", m.base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	formActionRe = regexp.MustCompile(`<form id="login" method="post" action="([^"]*)">`)
	hiddenRe     = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
	postActionRe = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

func hiddenFields(body string) url.Values {
	v := url.Values{}
	for _, h := range hiddenRe.FindAllStringSubmatch(body, -1) {
		v.Add(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return v
}

func readBody(t testingT, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// login is one login at mellon's /secret through the IdP's login form,
// with extra form fields (options); it returns the NameID mellon saw and
// the response XML as sent.
func signIn(t testingT, m *mellon, p *idp, idpInitiated bool, fields url.Values) (nameID string, responseXML []byte) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	var body, loginURL string
	if idpInitiated {
		loginURL = p.base + "/idp/initiate?" + url.Values{"sp": {m.entityID}, "RelayState": {m.base + "/secret/"}}.Encode()
		// Mellon needs its test cookie before it accepts a response.
		resp, err := client.Get(m.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
	} else {
		loginURL = m.base + "/secret/"
	}
	resp, err := client.Get(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	if !strings.HasPrefix(resp.Request.URL.String(), p.base) {
		t.Fatalf("expected the IdP's login page, got %s %d:\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	am := formActionRe.FindStringSubmatch(body)
	if am == nil {
		t.Fatalf("no login form at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	form := hiddenFields(body)
	for k, v := range fields {
		form[k] = v
	}
	resp, err = client.PostForm(p.base+html.UnescapeString(am[1]), form)
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	pm := postActionRe.FindStringSubmatch(body)
	post := hiddenFields(body)
	if pm == nil || post.Get("SAMLResponse") == "" {
		t.Fatalf("no SAMLResponse form from the IdP (%d):\n%s", resp.StatusCode, body)
	}
	responseXML, err = base64.StdEncoding.DecodeString(post.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = client.PostForm(html.UnescapeString(pm[1]), post)
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/secret/" {
		t.Fatalf("mellon did not sign in: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	return resp.Header.Get("X-Mellon-NameID"), responseXML
}

// xmlsecVerify verifies the Response's signature (the first in the
// document) or, with assertion, the Assertion's, trusting only the IdP
// certificate.
func xmlsecVerify(t testingT, xmlsec, dir, certPEM string, doc []byte, assertion bool) error {
	t.Helper()
	certFile := filepath.Join(dir, "idp-cert.pem")
	if err := os.WriteFile(certFile, []byte(certPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "response-*.xml")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write(doc)
	f.Close()
	args := []string{"--verify", "--trusted-pem", certFile,
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"}
	if assertion {
		args = append(args, "--node-xpath", "//*[local-name()='Assertion']/*[local-name()='Signature']")
	} else {
		args = append(args, "--node-xpath", "/*[local-name()='Response']/*[local-name()='Signature']")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, xmlsec, append(args, f.Name())...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("xmlsec1 %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// decrypt returns doc with its EncryptedAssertion decrypted by xmlsec1
// with the SP's key, or doc itself when the assertion is not encrypted.
func decrypt(t testingT, xmlsec, dir, spKey string, doc []byte) []byte {
	t.Helper()
	if !bytes.Contains(doc, []byte("EncryptedAssertion")) {
		return doc
	}
	in := filepath.Join(dir, "encrypted.xml")
	if err := os.WriteFile(in, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xmlsec, "--decrypt", "--privkey-pem", spKey, "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response", in).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("xmlsec1 --decrypt: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	// The decrypted Assertion replaces the EncryptedData, inside the
	// EncryptedAssertion element.
	d := etree.NewDocument()
	if err := d.ReadFromBytes(out); err != nil {
		t.Fatalf("decrypted document: %v", err)
	}
	if d.FindElement("//Assertion") == nil {
		t.Fatalf("no Assertion after decryption:\n%s", out)
	}
	return out
}

func sigPresence(t testingT, doc []byte) (response, assertion string) {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		t.Fatal(err)
	}
	if s := d.Root().FindElement("./Signature/SignedInfo/SignatureMethod"); s != nil {
		response = s.SelectAttrValue("Algorithm", "")
	}
	if s := d.FindElement("//Assertion/Signature/SignedInfo/SignatureMethod"); s != nil {
		assertion = s.SelectAttrValue("Algorithm", "")
	}
	return
}

// stripEncryptionKey removes the encryption KeyDescriptors from SP
// metadata, so the IdP sends the assertion in the clear.
func stripEncryptionKey(t testingT, md []byte) []byte {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(md); err != nil {
		t.Fatal(err)
	}
	for _, kd := range d.FindElements("//KeyDescriptor[@use='encryption']") {
		kd.Parent().RemoveChild(kd)
	}
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testingT is what the helpers need of GinkgoT().
type testingT interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Skipf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
	Cleanup(func())
	Failed() bool
}

func TestInterop(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Interop (mod_auth_mellon, xmlsec1)")
}

const (
	algSHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	algSHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
)

var _ = Describe("Responses of the mock IdP in third-party software", Ordered, Label("interop"), func() {
	var (
		p      *idp
		m      *mellon
		xmlsec string
		work   string
	)
	BeforeAll(func() {
		t := GinkgoT()
		var mellonCreate string
		mellonCreate, xmlsec = requirePeers(t)
		p = startIdP(t)
		resp, err := http.Get(p.base + "/metadata")
		Expect(err).NotTo(HaveOccurred())
		m = startMellon(t, mellonCreate, []byte(readBody(t, resp)))
		work = t.TempDir()
	})

	// login signs in at mellon with these IdP form fields and checks what
	// mellon saw, where the signatures are, and that xmlsec1 verifies them.
	login := func(idpInitiated bool, fields url.Values, encrypted bool, wantResp, wantAssert string) {
		t := GinkgoT()
		wantID := fields.Get("username")
		if wantID == "" {
			wantID = "alice@example.com"
		}
		nameID, doc := signIn(t, m, p, idpInitiated, fields)
		Expect(nameID).To(Equal(wantID), "mellon's /secret X-Mellon-NameID")
		Expect(bytes.Contains(doc, []byte("EncryptedAssertion"))).To(Equal(encrypted), "assertion encrypted")
		clear := decrypt(t, xmlsec, work, m.spKey, doc)
		r, a := sigPresence(t, clear)
		Expect(r).To(Equal(wantResp), "the Response's signature algorithm")
		Expect(a).To(Equal(wantAssert), "the Assertion's signature algorithm")
		if wantResp != "" {
			// The response as sent (the assertion may be encrypted in it).
			Expect(xmlsecVerify(t, xmlsec, work, p.certPEM, doc, false)).To(Succeed(), "xmlsec1: response signature")
		}
		if wantAssert != "" {
			Expect(xmlsecVerify(t, xmlsec, work, p.certPEM, clear, true)).To(Succeed(), "xmlsec1: assertion signature")
		}
		// xmlsec1 is not a rubber stamp: a changed NameID fails.
		tampered := bytes.Replace(clear, []byte(">"+wantID+"<"), []byte(">evil-"+wantID+"<"), 1)
		Expect(tampered).NotTo(Equal(clear))
		if wantAssert != "" {
			Expect(xmlsecVerify(t, xmlsec, work, p.certPEM, tampered, true)).NotTo(Succeed(), "xmlsec1 verified a tampered assertion")
		} else {
			Expect(xmlsecVerify(t, xmlsec, work, p.certPEM, tampered, false)).NotTo(Succeed(), "xmlsec1 verified a tampered response")
		}
	}

	Context("with mellon's metadata as made (it has an encryption key)", Ordered, func() {
		BeforeAll(func() { Expect(p.srv.RegisterSPMetadataXML(m.spMetadata)).To(Succeed()) })
		It("signs a persona in, SP-initiated", func() {
			login(false, url.Values{"persona": {"alice"}}, true, algSHA256, algSHA256)
		})
		It("signs a typed-in user in, IdP-initiated", func() {
			login(true, url.Values{"username": {"interop-user@example.com"}, "groups": {"Engineering\nSales"}}, true, algSHA256, algSHA256)
		})
		It("accepts an assertion-only signature with RSA-SHA512", func() {
			login(false, url.Values{"persona": {"alice"}, "signWhat": {"assertion"}, "signAlg": {"sha512"}}, true, "", algSHA512)
		})
		// Keycloak's default: a signed Response around an EncryptedAssertion
		// whose assertion is unsigned. The response signature covers the
		// ciphertext, so a changed CipherValue fails it.
		It("accepts response-only signing around an unsigned encrypted assertion (Keycloak's default)", func() {
			t := GinkgoT()
			nameID, doc := signIn(t, m, p, false, url.Values{"persona": {"alice"}, "signWhat": {"response"}})
			Expect(nameID).To(Equal("alice@example.com"), "mellon's /secret X-Mellon-NameID")
			Expect(bytes.Contains(doc, []byte("EncryptedAssertion"))).To(BeTrue(), "assertion encrypted")
			r, a := sigPresence(t, decrypt(t, xmlsec, work, m.spKey, doc))
			Expect(r).To(Equal(algSHA256), "the Response's signature algorithm")
			Expect(a).To(BeEmpty(), "the decrypted Assertion carries no signature")
			Expect(xmlsecVerify(t, xmlsec, work, p.certPEM, doc, false)).To(Succeed(), "xmlsec1: response signature")
			i := bytes.LastIndex(doc, []byte("CipherValue>")) // the closing tag of the assertion's ciphertext
			j := bytes.LastIndex(doc[:i], []byte("CipherValue>")) + len("CipherValue>")
			Expect(j).To(BeNumerically("<", i), "a CipherValue with content")
			tampered := bytes.Clone(doc)
			if tampered[j] == 'A' {
				tampered[j] = 'B'
			} else {
				tampered[j] = 'A'
			}
			Expect(xmlsecVerify(t, xmlsec, work, p.certPEM, tampered, false)).NotTo(Succeed(), "xmlsec1 verified a response with a changed ciphertext")
		})
	})

	Context("with the encryption key left out of mellon's metadata", Ordered, func() {
		BeforeAll(func() { Expect(p.srv.RegisterSPMetadataXML(stripEncryptionKey(GinkgoT(), m.spMetadata))).To(Succeed()) })
		DescribeTable("signing options",
			func(idpInitiated bool, fields url.Values, wantResp, wantAssert string) {
				login(idpInitiated, fields, false, wantResp, wantAssert)
			},
			Entry("both, SHA-256", false, url.Values{"persona": {"alice"}}, algSHA256, algSHA256),
			Entry("both, SHA-512", false, url.Values{"persona": {"alice"}, "signAlg": {"sha512"}}, algSHA512, algSHA512),
			Entry("response only", false, url.Values{"persona": {"alice"}, "signWhat": {"response"}}, algSHA256, ""),
			Entry("assertion only, IdP-initiated", true, url.Values{"persona": {"alice"}, "signWhat": {"assertion"}}, "", algSHA256),
			Entry("emailAddress NameID, joined groups", false, url.Values{"username": {"joined@example.com"}, "groups": {"A\nB"}, "groupsMode": {"joined"}, "nameIDFormat": {"emailAddress"}}, algSHA256, algSHA256),
		)
	})
})
