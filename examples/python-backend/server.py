#!/usr/bin/env python3
"""A syncjob backend in Python, standard library only: the reference for servers in other languages.

It speaks the wire protocol of @syncjob/core (openapi.json, events.schema.json) over a simulated
mailbox sync: jobs, the active job (reattach), log paging, server-sent events with ids and
keep-alive comments, cancel, retry and JSON errors. The unmodified browser client
(`sseTransport` from @syncjob/core/client, the React kit) drives it, and `syncjob check-server`
passes against it.

    python3 examples/python-backend/server.py --port 8000
    npx syncjob check-server http://127.0.0.1:8000/api/sync

Jobs live in memory: a real backend keeps them in its database and runs the sync in a worker.
"""

import argparse
import json
import math
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

ACTIVE = ("queued", "running")
TERMINAL = ("completed", "failed", "cancelled", "interrupted")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
MAX_BODY_BYTES = 16 * 1024
MAX_KEY_LENGTH = 256


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class HttpError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def invalid(message):
    return HttpError(400, "INVALID_INPUT", message)


class Store:
    """Jobs, their logs and their events, behind one lock; `changed` wakes the event streams."""

    def __init__(self, config):
        self.config = config
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.jobs = {}  # id -> job (the wire shape)
        self.logs = {}  # id -> [log entry]
        self.events = {}  # id -> [event], every event after the job was created
        self.checkpoints = {}  # (source, accountId) -> messages already stored

    # -- reads (callers hold no lock) --
    def get(self, job_id):
        with self.lock:
            job = self.jobs.get(job_id)
            return dict(job) if job else None

    def active(self, source, account_id):
        with self.lock:
            for job in self.jobs.values():
                if job["source"] == source and job["accountId"] == account_id and job["status"] in ACTIVE:
                    return dict(job)
            return None

    def list(self, account_id, source, limit):
        with self.lock:
            jobs = [j for j in self.jobs.values() if j["accountId"] == account_id and source in (None, j["source"])]
            jobs.sort(key=lambda j: j["createdAt"], reverse=True)
            return [dict(j) for j in jobs[:limit]]

    def page(self, job_id, after_seq, limit):
        with self.lock:
            return [e for e in self.logs[job_id] if e["seq"] > after_seq][:limit]

    # -- writes (all under the lock; each wakes the streams) --
    def start(self, source, account_id, trigger="manual"):
        with self.lock:
            for job in self.jobs.values():
                if job["source"] == source and job["accountId"] == account_id and job["status"] in ACTIVE:
                    return dict(job), False
            at = now_iso()
            job = {
                "id": str(uuid.uuid4()), "source": source, "accountId": account_id, "status": "queued",
                "phase": None, "mode": "full", "trigger": trigger,
                "counters": {"total": None, "listed": 0, "fetched": 0, "classified": 0, "stored": 0,
                             "skipped": 0, "deleted": 0, "failed": 0},
                "categoryCounts": {}, "percent": None, "ratePerSec": None, "etaSeconds": None,
                "currentItem": None, "waiting": None, "createdAt": at, "startedAt": None, "updatedAt": at,
                "heartbeatAt": None, "leaseExpiresAt": None, "finishedAt": None, "attempt": 0,
                "cancelRequested": False, "error": None, "lastLogSeq": 0,
            }
            self.jobs[job["id"]], self.logs[job["id"]], self.events[job["id"]] = job, [], []
            self._log(job, "info", "Sync queued." if trigger == "manual" else "Retry queued: resumes from the checkpoint.")
        threading.Thread(target=simulate_sync, args=(self, job["id"]), daemon=True).start()
        return self.get(job["id"]), True

    def update(self, job_id, log=None, **fields):
        """Applies fields (and a log line), emits status/terminal or progress events. Returns the job."""
        with self.lock:
            job = self.jobs[job_id]
            before = job["status"]
            if before in TERMINAL:
                return dict(job)  # a finished job never changes again (a cancel can beat the worker's next step)
            job.update(fields)
            job["updatedAt"] = now_iso()
            if log:
                self._log(job, *log)
            if job["status"] != before:
                kind = job["status"] if job["status"] in TERMINAL else "status"
                self._emit(job_id, {"type": kind, "jobId": job_id, "job": dict(job)})
            else:
                progress = {k: job[k] for k in ("phase", "mode", "counters", "categoryCounts", "percent",
                                                "ratePerSec", "etaSeconds", "currentItem", "waiting", "updatedAt")}
                self._emit(job_id, {"type": "progress", "jobId": job_id, "progress": json.loads(json.dumps(progress))})
            return dict(job)

    def _log(self, job, level, message, data=None):
        entry = {"jobId": job["id"], "seq": job["lastLogSeq"] + 1, "at": now_iso(), "level": level, "message": message}
        if data is not None:
            entry["data"] = data
        job["lastLogSeq"] = entry["seq"]
        self.logs[job["id"]].append(entry)
        self._emit(job["id"], {"type": "log", "jobId": job["id"], "entry": entry})

    def _emit(self, job_id, event):
        self.events[job_id].append(event)
        self.changed.notify_all()


def simulate_sync(store, job_id):
    """A mailbox sync: listing pages, then batches fetched and stored, honouring cancel between steps."""
    cfg = store.config
    job = store.get(job_id)
    key = (job["source"], job["accountId"])
    with store.lock:
        done = store.checkpoints.get(key, 0)
    total = cfg.messages
    started = time.monotonic()
    if job["status"] in TERMINAL:  # cancelled while queued
        return
    store.update(job_id, ("info", "Sync started." if done == 0 else f"Resuming from the checkpoint: {done} messages already stored."),
                 status="running", phase="listing", startedAt=now_iso(), attempt=1, heartbeatAt=now_iso())
    store.update(job_id, ("info", f"Mailbox holds about {total:,} messages."), counters={**job["counters"], "total": total},
                 percent=0.0)

    def cancelled():
        job = store.get(job_id)
        if job["status"] in TERMINAL:
            return True
        if not job["cancelRequested"]:
            return False
        store.update(job_id, ("warn", f"Sync cancelled: {job['counters']['stored']} messages stored; a retry continues from here."),
                     status="cancelled", phase=None, finishedAt=now_iso(), etaSeconds=None, ratePerSec=None)
        return True

    listed, page = 0, 0
    while listed < total:
        time.sleep(cfg.step)
        if cancelled():
            return
        page += 1
        listed = min(total, listed + cfg.page_size)
        job = store.get(job_id)
        store.update(job_id, ("info", f"Listed page {page}: {listed:,} of {total:,} message ids."),
                     counters={**job["counters"], "listed": listed}, currentItem=f"page {page}")
    stored, batch = done, 0
    store.update(job_id, None, phase="fetching", counters={**store.get(job_id)["counters"], "stored": stored,
                                                            "fetched": stored})
    while stored < total:
        time.sleep(cfg.step)
        if cancelled():
            return
        batch += 1
        stored = min(total, stored + cfg.batch_size)
        with store.lock:
            store.checkpoints[key] = stored
        elapsed = max(0.001, time.monotonic() - started)
        rate = round((stored - done) / elapsed, 1)
        eta = max(1, math.ceil((total - stored) / rate)) if rate > 0 and elapsed >= 1 and stored < total else None
        job = store.get(job_id)
        store.update(job_id, ("info", f"Batch {batch}: stored {stored:,} of {total:,} messages."),
                     counters={**job["counters"], "fetched": stored, "stored": stored},
                     percent=min(99.9, math.floor(stored / total * 1000) / 10), ratePerSec=rate, etaSeconds=eta,
                     currentItem=f"batch {batch}", heartbeatAt=now_iso())
    with store.lock:
        store.checkpoints.pop(key, None)
    store.update(job_id, ("info", f"Sync complete: {stored:,} messages in {time.monotonic() - started:.1f} s."),
                 status="completed", phase=None, percent=100, etaSeconds=None, finishedAt=now_iso(), currentItem=None)


# -- request parsing (the same rules as @syncjob/core's handler) --

def parse_job_id(raw):
    job_id = unquote(raw)
    if job_id in ("", "undefined", "null"):
        raise invalid(f'The job id is missing (got "{job_id}"). Start a job or ask jobs/active for the current one.')
    if not UUID_RE.match(job_id):
        raise invalid("The job id must be a UUID.")
    return job_id.lower()


def check_key(value, name):
    if not isinstance(value, str) or value.strip() == "" or len(value) > MAX_KEY_LENGTH:
        raise invalid(f'"{name}" must be a non-empty string of at most {MAX_KEY_LENGTH} characters.')
    if value in ("undefined", "null"):
        raise invalid(f'"{name}" is missing (got "{value}").')
    return value


def key_param(query, name, required):
    values = query.get(name, [])
    if not values:
        if required:
            raise invalid(f'Query parameter "{name}" is required.')
        return None
    return check_key(values[0] if len(values) == 1 else None, name)


def int_param(query, name, low, high, default):
    values = query.get(name, [])
    if not values:
        return default
    if len(values) > 1 or not re.fullmatch(r"\d{1,15}", values[0]) or not low <= int(values[0]) <= high:
        raise invalid(f'"{name}" must be one integer from {low} to {high}.')
    return int(values[0])


class Handler(BaseHTTPRequestHandler):
    server_version = "syncjob-python/1"

    def log_message(self, format, *args):  # quiet: one line per request is noise in tests
        pass

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        try:
            self.dispatch(method)
        except HttpError as error:
            self.send_json(error.status, {"error": {"code": error.code, "message": error.message}}, error.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:  # a bug: logged here, never sent
            import traceback
            traceback.print_exc()
            self.send_json(500, {"error": {"code": "INTERNAL", "message": "An unexpected error occurred."}})

    def dispatch(self, method):
        cfg, store = self.server.config, self.server.store
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        base = cfg.base_path
        path = url.path.rstrip("/")
        if not (path == base or path.startswith(base + "/")):
            raise HttpError(404, "ROUTE_NOT_FOUND", f"No route {url.path}.")
        segments = path[len(base):].split("/")[1:]
        if not segments or segments[0] != "jobs" or len(segments) > 3:
            raise HttpError(404, "ROUTE_NOT_FOUND", f"No route {url.path}.")
        if len(segments) == 1:
            name, raw_id = "jobs", None
        elif len(segments) == 2:
            name, raw_id = ("active", None) if segments[1] == "active" else ("job", segments[1])
        elif segments[2] in ("logs", "events", "cancel", "retry"):
            name, raw_id = segments[2], segments[1]
        else:
            raise HttpError(404, "ROUTE_NOT_FOUND", f"No route {url.path}.")
        allowed = {"jobs": ["GET", "POST"], "cancel": ["POST"], "retry": ["POST"]}.get(name, ["GET"])
        if method not in allowed:
            raise HttpError(405, "METHOD_NOT_ALLOWED", f"Use {' or '.join(allowed)} on this route.",
                            {"Allow": ", ".join(allowed)})
        if cfg.token and self.headers.get("Authorization") != f"Bearer {cfg.token}":
            raise HttpError(401, "UNAUTHENTICATED", "Sign in to see and start sync jobs.")

        def load_job():
            job = store.get(parse_job_id(raw_id))
            if job is None:
                raise HttpError(404, "NOT_FOUND", "No job with this id exists.")
            return job

        def require_source(source):
            if source not in cfg.sources:
                raise HttpError(400, "UNKNOWN_SOURCE", f'Unknown source "{source}". Known sources: {", ".join(cfg.sources)}.')

        if name == "jobs" and method == "POST":
            body = self.read_json()
            if not isinstance(body, dict):
                raise invalid("The request body must be a JSON object { source, accountId, mode? }.")
            if body.get("mode") not in (None, "auto", "full", "incremental"):
                raise invalid('"mode" must be one of auto, full, incremental.')
            source, account_id = check_key(body.get("source"), "source"), check_key(body.get("accountId"), "accountId")
            require_source(source)
            job, started = store.start(source, account_id)
            return self.send_json(202, {"job": job, "started": True} if started else
                                  {"job": job, "started": False, "reason": "alreadyRunning"})
        if name == "jobs":
            account_id, source = key_param(query, "accountId", True), key_param(query, "source", False)
            limit = int_param(query, "limit", 1, 500, 50)
            return self.send_json(200, {"jobs": store.list(account_id, source, limit)})
        if name == "active":
            source, account_id = key_param(query, "source", True), key_param(query, "accountId", True)
            require_source(source)
            return self.send_json(200, {"job": store.active(source, account_id)})
        job = load_job()
        if name == "job":
            return self.send_json(200, {"job": job})
        if name == "logs":
            after_seq = int_param(query, "afterSeq", 0, 2**53 - 1, 0)
            limit = int_param(query, "limit", 1, 5000, 500)
            logs = store.page(job["id"], after_seq, limit)
            last_seq = logs[-1]["seq"] if logs else after_seq
            return self.send_json(200, {"logs": logs, "lastSeq": last_seq,
                                        "hasMore": len(logs) == limit or last_seq < job["lastLogSeq"]})
        if name == "cancel":
            if job["status"] in TERMINAL:
                raise HttpError(409, "CONFLICT", f"The job already ended ({job['status']}); there is nothing to cancel.")
            if job["status"] == "queued":
                job = store.update(job["id"], ("warn", "Sync cancelled before it started."), status="cancelled",
                                   finishedAt=now_iso(), cancelRequested=True)
            else:
                job = store.update(job["id"], ("info", "Cancel requested: stopping after the current batch."),
                                   cancelRequested=True)
            return self.send_json(202, {"job": job})
        if name == "retry":
            if job["status"] in ACTIVE:
                raise HttpError(409, "CONFLICT", f"The job is still {job['status']}; cancel it or wait for it to end.")
            if job["status"] == "completed":
                raise HttpError(409, "CONFLICT", "The sync completed; start a new sync instead of retrying it.")
            new_job, started = store.start(job["source"], job["accountId"], trigger="resume")
            return self.send_json(202, {"job": new_job, "started": True} if started else
                                  {"job": new_job, "started": False, "reason": "alreadyRunning"})
        return self.stream_events(job)

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise invalid(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        text = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if text.strip() == "":
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise invalid("The request body is not valid JSON.")

    def send_json(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def stream_events(self, job):
        """A snapshot, the log lines after Last-Event-ID (or ?afterSeq=), live events; ends after the terminal event."""
        store, cfg = self.server.store, self.server.config
        query = parse_qs(urlsplit(self.path).query)
        last_event_id = (self.headers.get("Last-Event-ID") or "").strip()
        if last_event_id:
            after_seq = int_param({"Last-Event-ID": [last_event_id]}, "Last-Event-ID", 0, 2**53 - 1, 0)
        else:
            after_seq = int_param(query, "afterSeq", 0, 2**53 - 1, 0)
        job_id = job["id"]
        with store.lock:  # the snapshot, the backlog and the position in the event list, all at one instant
            snapshot = dict(store.jobs[job_id])
            after_seq = min(after_seq, snapshot["lastLogSeq"])  # a client ahead of the job starts over at the end
            backlog = [e for e in store.logs[job_id] if e["seq"] > after_seq]
            position = len(store.events[job_id])
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache, no-store, no-transform")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        last_seq = after_seq

        def send(event):
            nonlocal last_seq
            if event["type"] == "log":
                if event["entry"]["seq"] <= last_seq:
                    return  # already sent (backlog overlap): each line exactly once
                last_seq = event["entry"]["seq"]
            frame = f"id: {last_seq}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"
            self.wfile.write(frame.encode())

        try:
            self.wfile.write(b"retry: 1000\n\n")
            send({"type": "snapshot", "jobId": job_id, "job": snapshot})
            for entry in backlog:
                send({"type": "log", "jobId": job_id, "entry": entry})
            if snapshot["status"] in TERMINAL:
                send({"type": snapshot["status"], "jobId": job_id, "job": snapshot})
                return self.wfile.flush()
            self.wfile.flush()
            next_keep_alive = time.monotonic() + cfg.keepalive
            while True:
                with store.lock:
                    timeout = max(0.0, next_keep_alive - time.monotonic())
                    if position >= len(store.events[job_id]):
                        store.changed.wait(timeout)
                    fresh = store.events[job_id][position:]
                    position += len(fresh)
                for event in fresh:
                    send(event)
                    if event["type"] in TERMINAL:
                        return self.wfile.flush()  # the end of the stream: the handler returns, the connection closes
                if time.monotonic() >= next_keep_alive:
                    self.wfile.write(b": keep-alive\n\n")
                    next_keep_alive = time.monotonic() + cfg.keepalive
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away


def main():
    parser = argparse.ArgumentParser(description="A syncjob backend in Python (standard library only).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--base-path", default="/api/sync", help="where the routes live (default /api/sync)")
    parser.add_argument("--sources", default="gmail", help="comma-separated source ids (default gmail)")
    parser.add_argument("--messages", type=int, default=200, help="messages per simulated mailbox (default 200)")
    parser.add_argument("--page-size", type=int, default=100, help="message ids listed per page (default 100)")
    parser.add_argument("--batch-size", type=int, default=20, help="messages stored per batch (default 20)")
    parser.add_argument("--step", type=float, default=0.4, help="seconds per listing page or batch (default 0.4)")
    parser.add_argument("--keepalive", type=float, default=15, help="seconds between keep-alive comments (default 15)")
    parser.add_argument("--token", default=None, help="require Authorization: Bearer <token> (default: no auth)")
    config = parser.parse_args()
    config.base_path = "/" + config.base_path.strip("/") if config.base_path.strip("/") else ""
    config.sources = [s for s in config.sources.split(",") if s]
    server = ThreadingHTTPServer((config.host, config.port), Handler)
    server.daemon_threads = True
    server.config, server.store = config, Store(config)
    print(f"syncjob python backend on http://{config.host}:{server.server_address[1]}{config.base_path}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
