package mockidp

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// spRegistration is the JSON form of POST /api/sps: exactly one of URL
// (fetched by the IdP) and XML (the metadata itself).
type spRegistration struct {
	URL string `json:"url"`
	XML string `json:"xml"`
}

// apiListSPs lists the registered SPs, or, with an entity ID in the path
// or ?entityID=, describes that one with its metadata.
func (s *Server) apiListSPs(w http.ResponseWriter, r *http.Request) {
	id := pathParam(r, "entityID")
	if id == "" {
		writeJSON(w, http.StatusOK, s.spInfos())
		return
	}
	md, ok := s.registeredSP(id)
	if !ok {
		writeAPIError(w, http.StatusNotFound, "no service provider %q is registered", id)
		return
	}
	info := spInfo(md)
	info.Metadata = spMetadataXML(md)
	writeJSON(w, http.StatusOK, info)
}

// apiRegisterSP registers SP metadata: the body is the metadata XML, or
// JSON {"url": ...} or {"xml": ...}.
func (s *Server) apiRegisterSP(w http.ResponseWriter, r *http.Request) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var ids []string
	var err error
	if mediaType == "application/json" {
		var reg spRegistration
		if e := decodeJSON(w, r, &reg); e != nil {
			writeAPIError(w, e.status, "%s", e.msg)
			return
		}
		switch {
		case (reg.URL == "") == (reg.XML == ""):
			writeAPIError(w, http.StatusBadRequest, `send exactly one of {"url": ...} and {"xml": ...}`)
			return
		case reg.URL != "":
			ids, err = s.registerSPMetadataURL(r.Context(), reg.URL)
		default:
			ids, err = s.registerSPMetadata([]byte(reg.XML))
		}
	} else {
		b, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMetadataSize))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(readErr, &tooBig):
			writeAPIError(w, http.StatusRequestEntityTooLarge, "metadata larger than %d bytes", tooBig.Limit)
			return
		case readErr != nil:
			writeAPIError(w, http.StatusBadRequest, "read the body: %v", readErr)
			return
		case len(strings.TrimSpace(string(b))) == 0:
			writeAPIError(w, http.StatusBadRequest, `the body is empty; send SP metadata XML, or JSON {"url": ...} or {"xml": ...}`)
			return
		}
		ids, err = s.registerSPMetadata(b)
	}
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "mockidp: "))
		return
	}
	out := make([]SPInfo, 0, len(ids))
	for _, id := range ids {
		if md, ok := s.registeredSP(id); ok {
			out = append(out, spInfo(md))
		}
	}
	if len(ids) == 1 {
		w.Header().Set("Location", s.apiURL("sps", ids[0]))
	}
	writeJSON(w, http.StatusCreated, out)
}

// apiDeleteSP unregisters the SP in the path or ?entityID=.
func (s *Server) apiDeleteSP(w http.ResponseWriter, r *http.Request) {
	id := pathParam(r, "entityID")
	if id == "" {
		writeAPIError(w, http.StatusBadRequest, "name the SP: DELETE /api/sps/{entityID, path-escaped} or /api/sps?entityID=...")
		return
	}
	if !s.unregisterSP(id) {
		writeAPIError(w, http.StatusNotFound, "no service provider %q is registered", id)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
