package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/samlsso"
	"github.com/hmpconform/hmpconform/sp/settings"
	"github.com/hmpconform/hmpconform/sp/store"
)

// fieldErrors maps a settings field (its form name) to what is wrong.
type fieldErrors map[string]string

func (s *Server) handleSettingsPage(w http.ResponseWriter, r *http.Request) {
	cfg, err := s.cfg.Store.Settings(r.Context())
	if err != nil {
		s.logErr(r.Context(), "read settings", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Settings could not be read.")
		return
	}
	s.renderSettings(w, r, http.StatusOK, cfg, nil, r.URL.Query().Get("saved"))
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, status int, cfg settings.Settings, errs fieldErrors, saved string) {
	acs := s.saml.ACSURL()
	s.render(w, r, status, "settings.html", map[string]any{
		"S":               cfg,
		"DefaultGroups":   strings.Join(cfg.DefaultUserGroups, ", "),
		"Errors":          errs,
		"Saved":           saved,
		"ACSURL":          acs.String(),
		"DefaultEntityID": s.saml.DefaultEntityID(),
		"MetadataPath":    samlsso.MetadataPath,
	})
}

// settingsFromForm reads the posted form; it never fails, validation does.
func settingsFromForm(r *http.Request) settings.Settings {
	f := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	var defaults []string
	for _, name := range strings.Split(r.PostFormValue("defaultUserGroups"), ",") {
		if name = strings.TrimSpace(name); name != "" {
			defaults = append(defaults, name)
		}
	}
	return settings.Settings{
		Mode:                settings.Mode(f("mode")),
		SSOURL:              f("ssoURL"),
		SLOURL:              f("sloURL"),
		AudienceURI:         f("audienceURI"),
		IdPEntityID:         f("idpEntityID"),
		IdPCertificatePEM:   strings.TrimSpace(r.PostFormValue("idpCertificatePEM")),
		SignRequest:         r.PostFormValue("signRequest") == "on",
		SignatureAlgorithm:  f("signatureAlgorithm"),
		UniqueIdentifier:    f("uniqueIdentifier"),
		FirstNameAttr:       f("firstNameAttr"),
		LastNameAttr:        f("lastNameAttr"),
		EmailAttr:           f("emailAttr"),
		ShortNameAttr:       f("shortNameAttr"),
		GroupMembershipAttr: f("groupMembershipAttr"),
		DefaultUserGroups:   defaults,
	}
}

// validateSettings checks every field; DEF-EXIST: default groups must
// already exist. It also canonicalises default group names to the SP's
// spelling.
func validateSettings(cfg *settings.Settings, groups []store.Group) fieldErrors {
	errs := fieldErrors{}
	switch cfg.Mode {
	case settings.ModeLocal, settings.ModeJIT:
	default:
		errs["mode"] = "Choose a provisioning mode."
	}
	if cfg.SSOURL != "" {
		if u, err := url.Parse(cfg.SSOURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs["ssoURL"] = "SAML SSO URL must be an absolute http(s) URL, or blank for IdP-initiated login only."
		}
	}
	if cfg.SLOURL != "" {
		if u, err := url.Parse(cfg.SLOURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs["sloURL"] = "IdP Single Logout URL must be an absolute http(s) URL, or blank for local sign-out only."
		}
	}
	if cfg.SignatureAlgorithm == "" {
		cfg.SignatureAlgorithm = settings.AlgSHA256
	}
	if cfg.SignatureAlgorithm != settings.AlgSHA256 && cfg.SignatureAlgorithm != settings.AlgSHA512 {
		errs["signatureAlgorithm"] = "SP Signature Algorithm must be SHA-256 or SHA-512."
	}
	if cfg.Mode == settings.ModeJIT {
		if cfg.AudienceURI == "" {
			errs["audienceURI"] = "Audience URI is required in Just-in-Time mode."
		}
		if cfg.IdPEntityID == "" {
			errs["idpEntityID"] = "IdP Entity ID (Issuer) is required in Just-in-Time mode."
		}
		if _, err := samlsso.ParseCertificates(cfg.IdPCertificatePEM); err != nil {
			errs["idpCertificatePEM"] = fmt.Sprintf("IdP public certificate: %v.", err)
		}
	} else if cfg.IdPCertificatePEM != "" {
		if _, err := samlsso.ParseCertificates(cfg.IdPCertificatePEM); err != nil {
			errs["idpCertificatePEM"] = fmt.Sprintf("IdP public certificate: %v.", err)
		}
	}
	for name, v := range map[string]string{"uniqueIdentifier": cfg.UniqueIdentifier, "firstNameAttr": cfg.FirstNameAttr,
		"lastNameAttr": cfg.LastNameAttr, "emailAttr": cfg.EmailAttr, "shortNameAttr": cfg.ShortNameAttr, "groupMembershipAttr": cfg.GroupMembershipAttr} {
		if len(v) > 512 {
			errs[name] = "Attribute names are limited to 512 characters."
		}
	}
	var unknown []string
	canonical := make([]string, 0, len(cfg.DefaultUserGroups))
	for _, name := range cfg.DefaultUserGroups {
		i := slices.IndexFunc(groups, func(g store.Group) bool { return strings.EqualFold(g.Name, name) })
		if i < 0 {
			unknown = append(unknown, name)
			continue
		}
		if !slices.Contains(canonical, groups[i].Name) {
			canonical = append(canonical, groups[i].Name)
		}
	}
	if len(unknown) > 0 {
		errs["defaultUserGroups"] = fmt.Sprintf("Default User Groups must already exist; create these groups first: %s.", strings.Join(unknown, ", "))
	} else {
		cfg.DefaultUserGroups = canonical
	}
	return errs
}

func (s *Server) handleSettingsSave(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cfg := settingsFromForm(r)
	groups, err := s.cfg.Store.Groups(ctx)
	if err != nil {
		s.logErr(ctx, "list groups", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Groups could not be read. Nothing was saved.")
		return
	}
	if errs := validateSettings(&cfg, groups); len(errs) > 0 {
		s.renderSettings(w, r, http.StatusUnprocessableEntity, cfg, errs, "")
		return
	}
	ended, err := s.cfg.Store.SaveSettings(ctx, cfg)
	if err != nil {
		s.logErr(ctx, "save settings", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Settings could not be saved. Nothing was changed.")
		return
	}
	s.cfg.Logger.InfoContext(ctx, "settings saved", "mode", cfg.Mode, "ended_sessions", ended)
	http.Redirect(w, r, "/admin/settings?saved="+strconv.Itoa(ended), http.StatusSeeOther)
}

func (s *Server) handleGroupsPage(w http.ResponseWriter, r *http.Request) {
	s.renderGroups(w, r, http.StatusOK, "", "")
}

func (s *Server) renderGroups(w http.ResponseWriter, r *http.Request, status int, errMsg, name string) {
	groups, err := s.cfg.Store.Groups(r.Context())
	if err != nil {
		s.logErr(r.Context(), "list groups", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Groups could not be read.")
		return
	}
	s.render(w, r, status, "groups.html", map[string]any{"Groups": groups, "Roles": store.Roles(), "Error": errMsg, "Name": name})
}

func (s *Server) handleGroupCreate(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	role := r.PostFormValue("role")
	if msg := groupNameProblem(name); msg != "" {
		s.renderGroups(w, r, http.StatusUnprocessableEntity, msg, "")
		return
	}
	switch {
	case !slices.Contains(store.Roles(), role):
		s.renderGroups(w, r, http.StatusUnprocessableEntity, "Choose a role for the group.", name)
		return
	}
	if _, err := s.cfg.Store.CreateGroup(r.Context(), name, role); err != nil {
		if errors.Is(err, store.ErrGroupExists) {
			s.renderGroups(w, r, http.StatusConflict, fmt.Sprintf("A group named %q already exists (names ignore case).", name), name)
			return
		}
		s.logErr(r.Context(), "create group", err)
		s.renderGroups(w, r, http.StatusInternalServerError, "The group could not be created.", name)
		return
	}
	http.Redirect(w, r, "/admin/groups", http.StatusSeeOther)
}

// groupNameProblem says what is wrong with a group name, or "". Commas are
// refused because Default User Groups is a comma-separated list: a group
// named "Sales, EMEA" could never be a default.
func groupNameProblem(name string) string {
	switch {
	case name == "":
		return "A group needs a name."
	case len(name) > 256:
		return "Group names are limited to 256 characters."
	case strings.Contains(name, ","):
		return "Group names cannot contain commas (Default User Groups is a comma-separated list)."
	case strings.ContainsFunc(name, isControl):
		return "Group names cannot contain control characters."
	}
	return ""
}

func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func (s *Server) handleGroupRename(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	name := strings.TrimSpace(r.PostFormValue("name"))
	if !ok {
		s.renderGroups(w, r, http.StatusNotFound, "No such group.", "")
		return
	}
	if msg := groupNameProblem(name); msg != "" {
		s.renderGroups(w, r, http.StatusUnprocessableEntity, msg, "")
		return
	}
	if s.isDefaultGroup(w, r, id, "renamed") {
		return
	}
	if err := s.cfg.Store.RenameGroup(r.Context(), id, name); err != nil {
		s.groupWriteError(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/groups", http.StatusSeeOther)
}

func (s *Server) handleGroupRole(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	role := r.PostFormValue("role")
	if !ok || !slices.Contains(store.Roles(), role) {
		s.renderGroups(w, r, http.StatusUnprocessableEntity, "Choose a valid role.", "")
		return
	}
	if err := s.cfg.Store.SetGroupRole(r.Context(), id, role); err != nil {
		s.groupWriteError(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/groups", http.StatusSeeOther)
}

func (s *Server) handleGroupDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		s.renderGroups(w, r, http.StatusNotFound, "No such group.", "")
		return
	}
	if s.isDefaultGroup(w, r, id, "deleted") {
		return
	}
	if err := s.cfg.Store.DeleteGroup(r.Context(), id); err != nil {
		s.groupWriteError(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/groups", http.StatusSeeOther)
}

// isDefaultGroup refuses (and answers) a change to a group the settings
// name as a Default User Group: the settings would name a group that no
// longer exists (DEF-EXIST), and fixing them silently would mean saving
// settings, which signs every user out.
func (s *Server) isDefaultGroup(w http.ResponseWriter, r *http.Request, id int64, verb string) bool {
	ctx := r.Context()
	cfg, err := s.cfg.Store.Settings(ctx)
	if err != nil {
		s.logErr(ctx, "read settings", err)
		s.renderGroups(w, r, http.StatusInternalServerError, "Settings could not be read; nothing was changed.", "")
		return true
	}
	groups, err := s.cfg.Store.Groups(ctx)
	if err != nil {
		s.renderGroups(w, r, http.StatusInternalServerError, "Groups could not be read; nothing was changed.", "")
		return true
	}
	for _, g := range groups {
		if g.ID == id && slices.ContainsFunc(cfg.DefaultUserGroups, func(d string) bool { return strings.EqualFold(d, g.Name) }) {
			s.renderGroups(w, r, http.StatusConflict, fmt.Sprintf(
				"%q is a Default User Group and cannot be %s: remove it from the Default User Groups setting first.", g.Name, verb), "")
			return true
		}
	}
	return false
}

func (s *Server) groupWriteError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.renderGroups(w, r, http.StatusNotFound, "No such group.", "")
	case errors.Is(err, store.ErrGroupExists):
		s.renderGroups(w, r, http.StatusConflict, "A group with that name already exists (names ignore case).", "")
	default:
		s.logErr(r.Context(), "write group", err)
		s.renderGroups(w, r, http.StatusInternalServerError, "The group could not be changed.", "")
	}
}

type userRow struct {
	store.User
	DisplayName string
	GroupNames  string
}

func toRow(u store.User) userRow {
	names := make([]string, len(u.Groups))
	for i, g := range u.Groups {
		names[i] = g.Name
	}
	return userRow{User: u, DisplayName: jit.DisplayName(u.FirstName, u.LastName, u.ShortName, u.Identifier), GroupNames: strings.Join(names, ", ")}
}

func (s *Server) handleUsersPage(w http.ResponseWriter, r *http.Request) {
	users, err := s.cfg.Store.Users(r.Context())
	if err != nil {
		s.logErr(r.Context(), "list users", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Users could not be read.")
		return
	}
	cfg, err := s.cfg.Store.Settings(r.Context())
	if err != nil {
		s.logErr(r.Context(), "read settings", err)
	}
	rows := make([]userRow, len(users))
	for i, u := range users {
		rows[i] = toRow(u)
	}
	s.render(w, r, http.StatusOK, "users.html", map[string]any{"Users": rows, "JIT": cfg.Mode == settings.ModeJIT, "Flash": r.URL.Query().Get("flash")})
}

// handleUserAdd exists so a scripted client gets a clear refusal: JIT-NOADD.
func (s *Server) handleUserAdd(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusForbidden, "users-not-addable",
		"Users cannot be added here: with Just-in-Time provisioning an account is created the first time its owner signs in through the identity provider.")
}

func (s *Server) userFromPath(w http.ResponseWriter, r *http.Request) (store.User, bool) {
	id, ok := pathID(r)
	if ok {
		u, err := s.cfg.Store.User(r.Context(), id)
		if err == nil {
			return u, true
		}
		if !errors.Is(err, store.ErrNotFound) {
			s.logErr(r.Context(), "read user", err)
		}
	}
	s.renderError(w, r, http.StatusNotFound, "no-such-user", "No such user.")
	return store.User{}, false
}

func (s *Server) handleUserPage(w http.ResponseWriter, r *http.Request) {
	u, ok := s.userFromPath(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	cfg, _ := s.cfg.Store.Settings(ctx)
	groups, err := s.cfg.Store.Groups(ctx)
	if err != nil {
		s.logErr(ctx, "list groups", err)
	}
	sessions, _ := s.cfg.Store.CountUserSessions(ctx, u.ID, s.cfg.Now())
	member := map[int64]bool{}
	for _, g := range u.Groups {
		member[g.ID] = true
	}
	s.render(w, r, http.StatusOK, "user.html", map[string]any{
		"U": toRow(u), "Groups": groups, "Member": member, "Sessions": sessions,
		// GRP-READONLY: the IdP owns groups while Group Membership is configured.
		"GroupsReadOnly": cfg.GroupMembershipAttr != "",
		"Flash":          r.URL.Query().Get("flash"),
	})
}

func (s *Server) handleUserDelete(w http.ResponseWriter, r *http.Request) {
	u, ok := s.userFromPath(w, r)
	if !ok {
		return
	}
	if err := s.cfg.Store.DeleteUser(r.Context(), u.ID); err != nil {
		s.logErr(r.Context(), "delete user", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "The user could not be deleted.")
		return
	}
	http.Redirect(w, r, "/admin/users?flash=deleted", http.StatusSeeOther)
}

func (s *Server) handleUserEndSessions(w http.ResponseWriter, r *http.Request) {
	u, ok := s.userFromPath(w, r)
	if !ok {
		return
	}
	n, err := s.cfg.Store.DeleteUserSessions(r.Context(), u.ID)
	if err != nil {
		s.logErr(r.Context(), "end sessions", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "The sessions could not be ended.")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/users/%d?flash=ended-%d", u.ID, n), http.StatusSeeOther)
}

func (s *Server) handleUserGroups(w http.ResponseWriter, r *http.Request) {
	u, ok := s.userFromPath(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	cfg, err := s.cfg.Store.Settings(ctx)
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "Settings could not be read.")
		return
	}
	if cfg.GroupMembershipAttr != "" {
		s.renderError(w, r, http.StatusForbidden, "groups-read-only",
			"This user's groups come from the identity provider (Group Membership is configured) and cannot be changed here.")
		return
	}
	var ids []int64
	for _, v := range r.PostForm["group"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.renderError(w, r, http.StatusBadRequest, "bad-form", "Unknown group.")
			return
		}
		ids = append(ids, id)
	}
	if err := s.cfg.Store.SetUserGroups(ctx, u.ID, ids); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.renderError(w, r, http.StatusBadRequest, "bad-form", "Unknown group; nothing was changed.")
			return
		}
		s.logErr(ctx, "set user groups", err)
		s.renderError(w, r, http.StatusInternalServerError, "unavailable", "The groups could not be saved.")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/users/%d?flash=groups-saved", u.ID), http.StatusSeeOther)
}
