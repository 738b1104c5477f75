package mockidp

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// The /sps page: the registered service providers, a form that registers
// one from pasted metadata or a metadata URL, and a delete button per SP.
// Its forms change state, so they pass the same cross-origin check as the
// API (api.go).

const (
	fieldMetadataXML = "metadataXML"
	fieldMetadataURL = "metadataURL"
	fieldEntityID    = "entityID"
)

type spsPage struct {
	SPs        []spsRow
	TrustAnySP bool
	Registered []string
	Deleted    string
	Error      string
	XML, URL   string // the form's input, kept after an error
	Action     string
	DeleteURL  string
	Home       string
	APIURL     string
}

type spsRow struct {
	SPInfo
	InitiateURL string
}

var spsTemplate = pageTemplate(`{{define "title"}}Service providers — Mock IdP{{end}}
{{define "main"}}
<h1>Service providers</h1>
{{if .TrustAnySP}}<p class="banner" id="dev-mode" data-trust-any-sp="true"><strong>Development mode is ON (trust any SP):</strong> AuthnRequests from service providers that are <em>not</em> registered here are accepted too, and answered at whatever ACS URL they name. Registering an SP still fixes its ACS URLs and encryption key.</p>
{{else}}<p class="request" id="dev-mode" data-trust-any-sp="false">Only the service providers registered here can sign in (development mode, trust any SP, is off).</p>{{end}}
{{if .Error}}<p id="sps-error" role="alert" style="background:#fde2e1;border:1px solid #d33;color:#900;padding:.5rem .75rem;border-radius:4px">{{.Error}}</p>{{end}}
{{if .Registered}}<p id="sps-message" role="status">Registered: {{range $i, $id := .Registered}}{{if $i}}, {{end}}<code>{{$id}}</code>{{end}}.</p>{{end}}
{{if .Deleted}}<p id="sps-message" role="status">Deleted <code>{{.Deleted}}</code>.</p>{{end}}
{{if .SPs}}<table id="sps-table"><tr><th>Entity ID</th><th>Assertion consumer services</th><th>Encryption key</th><th></th></tr>
{{range .SPs}}<tr class="sp" data-entity-id="{{.EntityID}}"><td><code class="entity-id">{{.EntityID}}</code><br><a class="initiate" href="{{.InitiateURL}}">IdP-initiated login</a></td>
<td class="acs">{{range .ACS}}<div><code>{{.Location}}</code> <span class="muted">{{.Binding}}, index {{.Index}}</span></div>{{end}}</td>
<td class="encryption">{{if .EncryptionKey}}yes{{else}}no{{end}}</td>
<td><form method="post" action="{{$.DeleteURL}}"><input type="hidden" name="entityID" value="{{.EntityID}}"><button type="submit" class="delete">Delete</button></form></td></tr>
{{end}}</table>{{else}}<p class="muted" id="no-sps">No service provider is registered.</p>{{end}}
<h2>Register a service provider</h2>
<form id="register-sp" method="post" action="{{.Action}}">
<div class="grid">
<label for="metadataXML">Metadata XML</label><textarea id="metadataXML" name="metadataXML" spellcheck="false" placeholder="&lt;EntityDescriptor ...&gt;">{{.XML}}</textarea>
<label for="metadataURL">or its URL</label><input type="text" id="metadataURL" name="metadataURL" value="{{.URL}}" placeholder="https://sp.example.com/saml/metadata" autocomplete="off">
</div>
<p class="hint">Paste an EntityDescriptor (or an EntitiesDescriptor: every SP in it is registered), or give an http(s) URL the IdP fetches. Registering an entity ID again replaces it. The metadata is trusted as given (its signature is not checked).</p>
<p><button type="submit" id="register">Register</button></p>
</form>
<p class="muted">Scripts: <code>{{.APIURL}}</code> (README, “Scenario API”). <a href="{{.Home}}">Home</a></p>
{{end}}`)

func (s *Server) spsPageData() spsPage {
	page := spsPage{
		TrustAnySP: s.cfg.TrustAnySP,
		Action:     s.prefix + "/sps",
		DeleteURL:  s.prefix + "/sps/delete",
		Home:       s.prefix + "/",
		APIURL:     s.prefix + "/api/sps",
	}
	for _, info := range s.spInfos() {
		page.SPs = append(page.SPs, spsRow{SPInfo: info, InitiateURL: s.prefix + "/idp/initiate?" + url.Values{fieldSP: {info.EntityID}}.Encode()})
	}
	return page
}

func (s *Server) serveSPsPage(w http.ResponseWriter, r *http.Request) {
	page := s.spsPageData()
	q := r.URL.Query()
	page.Registered = q["registered"]
	page.Deleted = q.Get("deleted")
	setNoStore(w)
	s.render(w, http.StatusOK, spsTemplate, page)
}

// spsFormError draws the page again with the person's input and a message.
func (s *Server) spsFormError(w http.ResponseWriter, status int, xmlIn, urlIn, msg string) {
	page := s.spsPageData()
	page.Error, page.XML, page.URL = msg, xmlIn, urlIn
	setNoStore(w)
	s.render(w, status, spsTemplate, page)
}

// parseSPsForm checks the origin and reads a bounded form body.
func (s *Server) parseSPsForm(w http.ResponseWriter, r *http.Request) bool {
	if err := s.csrf.Check(r); err != nil {
		s.renderError(w, http.StatusForbidden, "Cross-origin form submission refused: "+err.Error()+".")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxMetadataSize+64<<10)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.spsFormError(w, http.StatusRequestEntityTooLarge, "", "", "The metadata is too large (at most 4 MiB).")
		} else {
			s.spsFormError(w, http.StatusBadRequest, "", "", "Could not read the form: "+err.Error())
		}
		return false
	}
	return true
}

func (s *Server) serveSPsRegister(w http.ResponseWriter, r *http.Request) {
	if !s.parseSPsForm(w, r) {
		return
	}
	xmlIn, urlIn := r.PostForm.Get(fieldMetadataXML), strings.TrimSpace(r.PostForm.Get(fieldMetadataURL))
	var ids []string
	var err error
	switch {
	case strings.TrimSpace(xmlIn) == "" && urlIn == "":
		s.spsFormError(w, http.StatusBadRequest, xmlIn, urlIn, "Paste the SP's metadata XML or give its URL.")
		return
	case strings.TrimSpace(xmlIn) != "" && urlIn != "":
		s.spsFormError(w, http.StatusBadRequest, xmlIn, urlIn, "Give either the metadata XML or its URL, not both.")
		return
	case urlIn != "":
		ids, err = s.registerSPMetadataURL(r.Context(), urlIn)
	default:
		ids, err = s.registerSPMetadata([]byte(xmlIn))
	}
	if err != nil {
		s.spsFormError(w, http.StatusBadRequest, xmlIn, urlIn, "Not registered: "+strings.TrimPrefix(err.Error(), "mockidp: "))
		return
	}
	http.Redirect(w, r, s.prefix+"/sps?"+url.Values{"registered": ids}.Encode(), http.StatusSeeOther)
}

func (s *Server) serveSPsDelete(w http.ResponseWriter, r *http.Request) {
	if !s.parseSPsForm(w, r) {
		return
	}
	id := r.PostForm.Get(fieldEntityID)
	if !s.unregisterSP(id) {
		s.spsFormError(w, http.StatusNotFound, "", "", "No service provider "+id+" is registered.")
		return
	}
	http.Redirect(w, r, s.prefix+"/sps?"+url.Values{"deleted": {id}}.Encode(), http.StatusSeeOther)
}
