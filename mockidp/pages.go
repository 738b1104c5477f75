package mockidp

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"slices"

	"github.com/hmpconform/hmpconform/fixtures"
)

const pageCSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f5f7;color:#222}
main{max-width:60rem;margin:1.5rem auto;padding:1.5rem 2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.4rem;margin-top:0}h2{font-size:1.1rem;margin-top:1.5rem}
a{color:#0b5cad}
.banner{background:#fff3cd;border:1px solid #e0b800;padding:.5rem .75rem;border-radius:4px;margin-bottom:1rem}
.request{background:#eef3f9;padding:.5rem .75rem;border-radius:4px;font-size:.9rem}
.request code{word-break:break-all}
#login-error{background:#fde2e1;border:1px solid #d33;color:#900;padding:.5rem .75rem;border-radius:4px}
.grid{display:grid;grid-template-columns:10rem 1fr;gap:.5rem 1rem;align-items:center}
.grid label{font-weight:600}
input[type=text],input[type=email],textarea{width:100%;box-sizing:border-box;padding:.35rem .5rem;font:inherit;border:1px solid #bbb;border-radius:4px}
textarea{min-height:6rem;font-family:ui-monospace,monospace}
.hint{color:#666;font-size:.85rem}
button{font:inherit;padding:.4rem 1rem;border-radius:4px;border:1px solid #0b5cad;background:#0b5cad;color:#fff;cursor:pointer}
button.persona{background:#fff;color:#0b5cad}
ul.personas{list-style:none;padding:0}ul.personas li{margin:.35rem 0}
.muted{color:#666;font-size:.85rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.5rem;overflow:auto;font-size:.8rem;max-height:30rem}
details{margin:.5rem 0}
`

var baseTemplate = template.Must(template.New("base").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{block "title" .}}Mock IdP{{end}}</title><style>` + pageCSS + `</style></head>
<body><main>{{block "main" .}}{{end}}</main></body></html>
`))

func pageTemplate(body string) *template.Template {
	return template.Must(template.Must(baseTemplate.Clone()).Parse(body))
}

type hiddenField struct{ Name, Value string }

type loginPage struct {
	Action       string
	Hidden       []hiddenField
	SPEntityID   string
	RequestID    string
	RelayState   string
	ACS          string
	IdPInitiated bool
	TrustAnySP   bool
	Unregistered bool
	Personas     []fixtures.Persona
	Form         loginForm
	Error        string
	Home         string
	DefaultAttr  string
	Faults       []Fault
	Choices      optionChoices
	Flavours     []flavourChoice // flavour.go
	GroupFormats []option
}

var loginTemplate = pageTemplate(`{{define "title"}}Sign in — Mock IdP{{end}}
{{define "main"}}
<h1>Mock IdP — sign in</h1>
{{if .TrustAnySP}}<p class="banner" id="trust-any-sp">Development mode: this IdP accepts AuthnRequests from any service provider{{if .Unregistered}}, and <strong>{{.SPEntityID}} is not registered</strong>: the response goes to the ACS URL its request named{{end}}.</p>{{end}}
<div class="request">
<div>Service provider: <code id="sp-entity-id">{{.SPEntityID}}</code></div>
{{if .IdPInitiated}}<div>IdP-initiated login (no AuthnRequest){{if .RelayState}}, RelayState <code id="relay-state">{{.RelayState}}</code>{{end}}</div>
{{else}}<div>AuthnRequest ID: <code id="request-id">{{.RequestID}}</code></div>{{end}}
{{if .ACS}}<div>Assertion consumer service: <code id="acs-url">{{.ACS}}</code></div>{{end}}
</div>
{{if .Error}}<p id="login-error" role="alert">{{.Error}}</p>{{end}}
<form id="login" method="post" action="{{.Action}}">
<input type="hidden" name="mockidp_login" value="1">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}
<h2>Choose the identity</h2>
<!-- The manual fields and #signin come first, so that Enter in a field signs in with them rather than as the first persona. -->
<div class="grid">
<label for="username">Username (NameID)</label><input type="text" id="username" name="username" value="{{.Form.Username}}" autocomplete="off">
<label for="firstName">firstName</label><input type="text" id="firstName" name="firstName" value="{{.Form.FirstName}}" autocomplete="off">
<label for="lastName">lastName</label><input type="text" id="lastName" name="lastName" value="{{.Form.LastName}}" autocomplete="off">
<label for="email">email</label><input type="text" id="email" name="email" value="{{.Form.Email}}" autocomplete="off">
<label for="shortName">shortName</label><input type="text" id="shortName" name="shortName" value="{{.Form.ShortName}}" autocomplete="off">
<label for="groups">Groups</label><div><textarea id="groups" name="groups" spellcheck="false">{{.Form.Groups}}</textarea>
<div class="hint">One group per line, sent as-is (commas are part of the name); blank lines are ignored. No groups: the attribute is left out.</div></div>
<label for="groupAttribute">Group attribute name</label><input type="text" id="groupAttribute" name="groupAttribute" value="{{.Form.GroupAttribute}}" autocomplete="off">
</div>
<p class="hint">Empty attributes are left out of the assertion.</p>
<h2>Options for this login</h2>
<div class="grid" id="login-options">
<label for="flavour">IdP flavour</label><select id="flavour" name="flavour">
{{range .Flavours}}<option value="{{.ID}}" data-group-attribute="{{.GroupAttribute}}"{{if eq .ID $.Form.Options.Flavour}} selected{{end}}>{{.Label}}</option>
{{end}}</select>
<label for="groupFormat">Send each group as</label><select id="groupFormat" name="groupFormat">
<option value=""{{if eq "" $.Form.Options.GroupFormat}} selected{{end}}>flavour default</option>
{{range .GroupFormats}}<option value="{{.Value}}"{{if eq .Value $.Form.Options.GroupFormat}} selected{{end}}>{{.Label}}</option>
{{end}}</select>
<label for="nameIDFormat">NameID format</label><select id="nameIDFormat" name="nameIDFormat">
<option value=""{{if eq "" $.Form.Options.NameIDFormat}} selected{{end}}>flavour default</option>
{{range .Choices.NameIDFormats}}<option value="{{.Value}}"{{if eq .Value $.Form.Options.NameIDFormat}} selected{{end}}>{{.Label}}</option>
{{end}}</select>
<label for="groupsMode">Send groups as</label><select id="groupsMode" name="groupsMode">
{{range .Choices.GroupsModes}}<option value="{{.Value}}"{{if eq .Value $.Form.Options.GroupsMode}} selected{{end}}>{{.Label}}</option>
{{end}}</select>
<label for="groupsDelimiter">Delimiter (joined)</label><input type="text" id="groupsDelimiter" name="groupsDelimiter" value="{{.Form.Options.GroupsDelimiter}}" placeholder="," autocomplete="off">
<label for="groupNameFormat">Group attribute NameFormat</label><select id="groupNameFormat" name="groupNameFormat">
<option value=""{{if eq "" $.Form.Options.GroupNameFormat}} selected{{end}}>flavour default</option>
{{range .Choices.GroupNameFormats}}<option value="{{.Value}}"{{if eq .Value $.Form.Options.GroupNameFormat}} selected{{end}}>{{.Label}} ({{.URI}})</option>
{{end}}</select>
<label for="signWhat">Sign</label><select id="signWhat" name="signWhat">
<option value=""{{if eq "" $.Form.Options.SignWhat}} selected{{end}}>flavour default</option>
{{range .Choices.SignWhats}}<option value="{{.Value}}"{{if eq .Value $.Form.Options.SignWhat}} selected{{end}}>{{.Label}}</option>
{{end}}</select>
<label for="signAlg">Signature algorithm</label><select id="signAlg" name="signAlg">
<option value=""{{if eq "" $.Form.Options.SignAlg}} selected{{end}}>flavour default</option>
{{range .Choices.SignAlgs}}<option value="{{.Value}}"{{if eq .Value $.Form.Options.SignAlg}} selected{{end}}>{{.Label}}</option>
{{end}}</select>
<label for="encrypt">Encrypt the assertion</label><select id="encrypt" name="encrypt">
{{range .Choices.Encrypts}}<option value="{{.Value}}"{{if eq .Value $.Form.Options.Encrypt}} selected{{end}}>{{.Label}}</option>
{{end}}</select>
<label for="signKey">Signing key</label><select id="signKey" name="signKey">
{{range .Choices.SignKeys}}<option value="{{.Value}}"{{if eq .Value $.Form.Options.SignKey}} selected{{end}}>{{.Label}}</option>
{{end}}</select>
</div>
<p class="hint">The IdP flavour shapes the response the way that product does by default (attribute names, group format, NameID format, signing; see the README). An option set here wins over the flavour's default; choosing a flavour also puts its group attribute name in the field above, unless you changed it.</p>
<p class="hint">The options apply to persona logins too. Joined groups are one attribute value (the delimiter defaults to a comma); the NameID value is the username, except that a transient NameID is a fresh random value at every login.</p>
<div class="grid"><label for="fault">Fault</label><select id="fault" name="fault">
<option value="">none — a normal, valid response</option>
{{range .Faults}}<option value="{{.Name}}"{{if eq .Name $.Form.Fault}} selected{{end}}>{{.Name}} ({{.Requirement}}, {{.Expect}}) — {{.Description}}</option>
{{end}}</select></div>
<p class="hint">A fault makes this one response deliberately broken or hostile (security conformance); the list is also at <code>/api/faults</code>. <span id="fault-signing-hint">A fault signs the way it describes: the signing and encryption options above and the flavour's signing default do not apply to it.</span></p>
<p><button type="submit" id="signin">Sign in</button></p>
{{if .Personas}}<h2>Or sign in as a persona</h2>
<ul class="personas">
{{range .Personas}}<li><button type="submit" name="persona" value="{{.ID}}" class="persona" id="persona-{{.ID}}">{{.ID}}</button>
<span class="muted">{{.NameID}}{{if .Groups}} — groups: {{range $i, $g := .Groups}}{{if $i}}, {{end}}“{{$g}}”{{end}}{{end}}</span>
<a href="#" class="persona-edit" data-persona="{{.ID}}">edit</a></li>
{{end}}</ul>
<p class="muted">“edit” copies the persona into the form above so you can change it before signing in.</p>
{{end}}
</form>
<p class="muted"><a href="{{.Home}}">Mock IdP home</a></p>
<script type="application/json" id="personas">{{.Personas}}</script>
<script>
(function () {
  var personas = JSON.parse(document.getElementById('personas').textContent) || [];
  function set(id, v) { document.getElementById(id).value = v || ''; }
  document.querySelectorAll('a.persona-edit').forEach(function (a) {
    a.addEventListener('click', function (ev) {
      ev.preventDefault();
      var p = personas.find(function (x) { return x.id === a.dataset.persona; });
      if (!p) { return; }
      set('username', p.nameID); set('firstName', p.firstName); set('lastName', p.lastName);
      set('email', p.email); set('shortName', p.shortName);
      set('groups', (p.groups || []).join('\n'));
      document.getElementById('username').focus();
    });
  });
  // A flavour brings its group attribute name, unless the person typed another.
  var flavour = document.getElementById('flavour'), groupAttr = document.getElementById('groupAttribute');
  var flavourAttr = function () { return flavour.selectedOptions[0] ? flavour.selectedOptions[0].dataset.groupAttribute : ''; };
  var lastAttr = flavourAttr();
  flavour.addEventListener('change', function () {
    if (groupAttr.value === '' || groupAttr.value === lastAttr) { groupAttr.value = flavourAttr(); }
    lastAttr = flavourAttr();
  });
})();
</script>
{{end}}`)

type homePage struct {
	EntityID     string
	MetadataURL  string
	SSOURL       string
	TrustAnySP   bool
	SPs          []homeSP
	Personas     []fixtures.Persona
	GroupAttr    string
	LogURL       string
	LogJSONURL   string
	SPsURL       string
	Certificate  string
	ResponseLogN int
}

type homeSP struct{ EntityID, InitiateURL string }

var homeTemplate = pageTemplate(`{{define "main"}}
<h1>Mock IdP</h1>
{{if .TrustAnySP}}<p class="banner" id="trust-any-sp">Development mode (trust any SP): AuthnRequests from unregistered service providers are accepted and answered at the ACS URL they name.</p>{{end}}
<p>Entity ID: <code>{{.EntityID}}</code><br>
Metadata: <a href="{{.MetadataURL}}">{{.MetadataURL}}</a><br>
SSO (HTTP-Redirect and HTTP-POST): <code>{{.SSOURL}}</code><br>
Default group attribute: <code>{{.GroupAttr}}</code></p>
<h2>Service providers</h2>
{{if .SPs}}<ul id="sps">{{range .SPs}}<li><code>{{.EntityID}}</code> — <a class="initiate" href="{{.InitiateURL}}">IdP-initiated login</a></li>{{end}}</ul>
{{else}}<p class="muted">No service provider is registered.</p>{{end}}
<p><a id="sps-link" href="{{.SPsURL}}">Register or remove service providers</a></p>
<h2>Personas</h2>
{{if .Personas}}<table id="personas-table"><tr><th>ID</th><th>NameID</th><th>Name</th><th>email</th><th>shortName</th><th>Groups</th></tr>
{{range .Personas}}<tr><td>{{.ID}}</td><td>{{.NameID}}</td><td>{{.FirstName}} {{.LastName}}</td><td>{{.Email}}</td><td>{{.ShortName}}</td><td>{{range $i, $g := .Groups}}{{if $i}}<br>{{end}}{{$g}}{{end}}</td></tr>
{{end}}</table>{{else}}<p class="muted">No personas.</p>{{end}}
<h2>Responses</h2>
<p><a id="log-link" href="{{.LogURL}}">Response log</a> ({{.ResponseLogN}}) · <a href="{{.LogJSONURL}}">JSON</a></p>
<p class="muted">Scripts drive the IdP through the scenario API under <code>/api/</code> (personas, service providers, the next login of a user, this log; see the README).</p>
<details><summary>Signing certificate</summary><pre>{{.Certificate}}</pre></details>
{{end}}`)

var logTemplate = pageTemplate(`{{define "title"}}Response log — Mock IdP{{end}}
{{define "main"}}
<h1>Response log</h1>
<p class="muted">Newest first; the last 200 responses are kept. <a id="log-download" href="{{.Prefix}}/log.json" download>Download the log (JSON)</a> · <a href="{{.Home}}">Home</a></p>
{{range .Entries}}<section class="entry" id="entry-{{.ID}}" data-id="{{.ID}}">
<h2>{{.Time.Format "2006-01-02 15:04:05.000 MST"}} — {{if eq .Kind "logout"}}<span class="kind-logout">logout</span> — {{end}}<code>{{.SP}}</code></h2>
<table>
<tr><th>NameID</th><td class="nameid">{{.NameID}}</td></tr>
{{if and .User (ne .User .NameID)}}<tr><th>Signed in as</th><td class="user">{{.User}}</td></tr>{{end}}
<tr><th>Status</th><td class="status">{{.Status}}{{with .SecondLevelStatus}}<br><span class="second-level-status">{{.}}</span>{{end}}</td></tr>
<tr><th>InResponseTo</th><td>{{if .InResponseTo}}{{.InResponseTo}}{{else}}(IdP-initiated){{end}}</td></tr>
<tr><th>{{if eq .Kind "logout"}}SingleLogoutService{{else}}ACS{{end}}</th><td>{{.ACS}}</td></tr>
{{if .EncryptOption}}<tr><th>Options</th><td class="options">encrypt {{.EncryptOption}}{{if .Encrypted}} (encrypted){{else}} (plain){{end}}; signing key {{.SigningKey}}</td></tr>{{end}}
{{if .Persona}}<tr><th>Persona</th><td>{{.Persona}}</td></tr>{{end}}
{{with .Options}}<tr><th>Login options</th><td class="login-options" data-source="{{.Source}}">from the <strong class="options-source">{{if eq .Source "queue"}}queued login (API){{else if eq .Source "session"}}IdP session (API){{else}}login form{{end}}</strong>;
NameID format <code class="opt-nameid-format">{{.NameIDFormat}}</code>; groups <span class="opt-groups-mode">{{.GroupsMode}}</span>{{if .GroupsDelimiter}} joined by <code class="opt-groups-delimiter">{{.GroupsDelimiter}}</code>{{end}}, NameFormat <code class="opt-group-nameformat">{{.GroupNameFormat}}</code>;
signed: <span class="opt-sign">{{.Sign}}</span> with <code class="opt-signature-method">{{.SignatureMethod}}</code></td></tr>{{end}}
{{if .Fault}}<tr><th>Fault</th><td class="fault">{{.Fault}}</td></tr>{{end}}
{{if .Flavour}}<tr><th>IdP flavour</th><td class="flavour">{{.Flavour}}</td></tr>{{end}}
<tr><th>Groups{{if .GroupAttribute}} ({{.GroupAttribute}}){{end}}</th><td class="groups">{{range $i, $g := .Groups}}{{if $i}}<br>{{end}}“{{$g}}”{{else}}(none){{end}}</td></tr>
</table>
<details open><summary>Response XML{{if .Encrypted}} (the assertion is encrypted for the SP){{end}}</summary><pre class="response-xml">{{.ResponseXML}}</pre></details>
{{if and .Encrypted .AssertionXML}}<details><summary>Assertion XML, before encryption</summary><pre class="assertion-xml">{{.AssertionXML}}</pre></details>{{end}}
{{if .RequestXML}}<details><summary>AuthnRequest XML, as the SP sent it</summary><pre class="request-xml">{{.RequestXML}}</pre></details>{{end}}
<p class="downloads"><a class="download-response" href="{{$.Prefix}}/log/{{.ID}}/response.xml" download>response.xml</a>{{if or .RequestXML .LogoutRequestXML}} · <a class="download-request" href="{{$.Prefix}}/log/{{.ID}}/request.xml" download>request.xml</a>{{end}} · <a class="entry-json" href="{{$.Prefix}}/api/log/{{.ID}}">JSON</a></p>
{{if .LogoutRequestXML}}<details open><summary>LogoutRequest XML, as the SP sent it</summary><pre class="logout-request-xml">{{.LogoutRequestXML}}</pre></details>{{end}}
</section>
{{else}}<p>No responses yet.</p>{{end}}
{{end}}`)

var errorTemplate = pageTemplate(`{{define "title"}}Error {{.Status}} — Mock IdP{{end}}
{{define "main"}}
<h1 id="error-status">{{.Status}} {{.StatusText}}</h1>
{{if .Message}}<p id="error-message">{{.Message}}</p>{{end}}
<p class="muted">Details are in the mock IdP's log. <a href="{{.Home}}">Home</a></p>
{{end}}`)

func setNoStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}

// render executes t into a buffer first, so a template error becomes a 500
// rather than half a page.
func (s *Server) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		s.logger.Error("mockidp: render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) renderError(w http.ResponseWriter, status int, msg string) {
	setNoStore(w)
	s.render(w, status, errorTemplate, struct {
		Status     int
		StatusText string
		Message    string
		Home       string
	}{status, http.StatusText(status), msg, s.prefix + "/"})
}

func (s *Server) serveHome(w http.ResponseWriter, _ *http.Request) {
	page := homePage{
		EntityID:     s.EntityID(),
		MetadataURL:  s.MetadataURL(),
		SSOURL:       s.SSOURL(),
		TrustAnySP:   s.cfg.TrustAnySP,
		Personas:     s.personas.list(),
		GroupAttr:    s.groupAttr,
		LogURL:       s.prefix + "/log",
		LogJSONURL:   s.prefix + "/api/log",
		SPsURL:       s.prefix + "/sps",
		Certificate:  s.CertificatePEM(),
		ResponseLogN: len(s.Log()),
	}
	for _, id := range s.serviceProviders() {
		page.SPs = append(page.SPs, homeSP{EntityID: id, InitiateURL: s.prefix + "/idp/initiate?" + url.Values{fieldSP: {id}}.Encode()})
	}
	s.render(w, http.StatusOK, homeTemplate, page)
}

func (s *Server) serveLog(w http.ResponseWriter, _ *http.Request) {
	entries := s.Log()
	slices.Reverse(entries)
	setNoStore(w)
	s.render(w, http.StatusOK, logTemplate, struct {
		Entries []LoggedResponse
		Home    string
		Prefix  string
	}{entries, s.prefix + "/", s.prefix})
}
