package httpapi

// The backup endpoints (redis:backups*), over the core's backup service.

import (
	"io"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/internal/httpjson"
)

// backupRoutes adds the backup endpoints to the authenticated router.
func (b *API) backupRoutes(a *mux.Router) {
	a.HandleFunc("/apps/{app}/backups", b.serve(b.listBackups)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/backups/{backup}", b.serve(b.getBackup)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/backups/{backup}", b.serve(b.deleteBackup)).Methods(http.MethodDelete)
	a.HandleFunc("/apps/{app}/backups/{backup}/archive", b.downloadBackup).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/backup-schedules", b.serve(b.listBackupSchedules)).Methods(http.MethodGet)
	a.HandleFunc("/apps/{app}/redis/{addon}/backups", b.serve(b.captureBackup)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/restore", b.serve(b.restoreBackup)).Methods(http.MethodPost)
	a.HandleFunc("/apps/{app}/redis/{addon}/backup-schedule", b.serve(b.scheduleBackups)).Methods(http.MethodPut)
	a.HandleFunc("/apps/{app}/redis/{addon}/backup-schedule", b.serve(b.unscheduleBackups)).Methods(http.MethodDelete)
}

func (b *API) listBackups(r *http.Request) (int, any, error) {
	out, err := b.b.Backups.List(r.Context(), mux.Vars(r)["app"])
	return http.StatusOK, out, err
}

func (b *API) getBackup(r *http.Request) (int, any, error) {
	out, err := b.b.Backups.Info(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["backup"])
	return http.StatusOK, out, err
}

func (b *API) deleteBackup(r *http.Request) (int, any, error) {
	var req api.BackupDelete
	if err := httpjson.Decode(r, &req, true); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Backups.Delete(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["backup"], req)
	return http.StatusOK, out, err
}

func (b *API) captureBackup(r *http.Request) (int, any, error) {
	var req api.BackupCapture
	if err := httpjson.Decode(r, &req, true); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Backups.Capture(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"], req)
	return http.StatusAccepted, out, err
}

func (b *API) restoreBackup(r *http.Request) (int, any, error) {
	var req api.BackupRestore
	if err := httpjson.Decode(r, &req, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Backups.Restore(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"], req)
	return http.StatusAccepted, out, err
}

func (b *API) listBackupSchedules(r *http.Request) (int, any, error) {
	out, err := b.b.Backups.Schedules(r.Context(), mux.Vars(r)["app"])
	return http.StatusOK, out, err
}

func (b *API) scheduleBackups(r *http.Request) (int, any, error) {
	var req api.BackupScheduleSet
	if err := httpjson.Decode(r, &req, false); err != nil {
		return 0, nil, err
	}
	out, err := b.b.Backups.Schedule(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"], req)
	return http.StatusOK, out, err
}

func (b *API) unscheduleBackups(r *http.Request) (int, any, error) {
	return http.StatusNoContent, nil, b.b.Backups.Unschedule(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"])
}

// downloadBackup streams a backup's archive as it is read from the target.
func (b *API) downloadBackup(w http.ResponseWriter, r *http.Request) {
	rc, size, name, err := b.b.Backups.Open(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["backup"])
	if err != nil {
		b.writeError(w, r, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if size > 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil && r.Context().Err() == nil {
		b.log.WithError(err).WithField("path", r.URL.Path).Warn("backup download cut short")
	}
}
