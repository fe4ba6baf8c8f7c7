"""The risk console: triage, label and silence alerts in the browser, beside the Dagster UI.

Server-rendered (FastAPI and Jinja2, no build step). It reads through console.queries and
writes only through the core functions the command line uses (warehouse.alerts, alerting), so
a label given here is the label ``alerts precision`` counts. ``create_app`` is the whole wiring;
``risk-pipelines console`` serves it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from risk_pipelines.alerting import repository
from risk_pipelines.alerting.notification.silences import SilenceError, new_silence
from risk_pipelines.config import ConsoleSettings, Settings
from risk_pipelines.console import queries
from risk_pipelines.console.auth import authenticate, session_secret
from risk_pipelines.console.incidents import add_incident_routes
from risk_pipelines.console.security import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    Analyst,
    FormText,
    Reader,
    SignInRequired,
    check_csrf,
    csrf_token,
    safe_next,
    signed_in_user,
    to_sign_in,
)
from risk_pipelines.warehouse import alerts as store
from risk_pipelines.warehouse.alerts import LABELS
from risk_pipelines.warehouse.store import Warehouse

TEMPLATES = Path(__file__).parent / "templates"
SILENCE_KEYS = ("rule_id", "metric", "platform", "policy_category", "region", "surface")


def create_app(settings: Settings, console: ConsoleSettings) -> FastAPI:
    app = FastAPI(title="risk console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console, app.state.settings = console, settings
    app.state.warehouse = Warehouse(settings.warehouse_url)
    # Autoescape everything: categories, platforms and messages come from landing files.
    app.state.templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(console.secret, console.secret_file),
        session_cookie=SESSION_COOKIE, max_age=SESSION_SECONDS, same_site="lax",
        https_only=console.secure_cookies,
    )  # fmt: skip
    app.add_exception_handler(SignInRequired, lambda request, exc: to_sign_in(exc))
    app.add_exception_handler(StarletteHTTPException, _error_page)
    _sign_in_routes(app)
    _alert_routes(app)
    add_incident_routes(app, render, _back)
    _other_routes(app)
    return app


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    context.update(
        user=signed_in_user(request, request.app.state.console),
        csrf=csrf_token(request), path=request.url.path, labels=LABELS,
        flash=request.session.pop("flash", None),
    )  # fmt: skip
    html = request.app.state.templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status)


def _error_page(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
    """A refusal or a missing page as a page a person can read, with its reason."""
    code = exc.status_code
    return render(request, "error.html", status=code, code=code, detail=exc.detail)


def _back(request: Request, path: str, flash: str) -> RedirectResponse:
    request.session["flash"] = flash
    return RedirectResponse(path, status_code=303)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _sign_in_routes(app: FastAPI) -> None:
    @app.get("/login")
    def login_page(request: Request, next: str | None = None) -> HTMLResponse:
        console = request.app.state.console
        return render(request, "login.html", next=safe_next(next), proxy=console.auth == "proxy",
                      users_file=console.users_file)  # fmt: skip

    @app.post("/login", dependencies=[Depends(check_csrf)])
    def login(
        request: Request, name: FormText = "", password: FormText = "", next: FormText = ""
    ) -> Response:
        if request.app.state.console.auth == "proxy":  # sign-in is the proxy's, never a password
            raise HTTPException(403, "this console signs you in through your proxy")
        user = authenticate(request.app.state.console.users_file, name.strip(), password)
        if user is None:
            return render(request, "login.html", status=401, next=safe_next(next),
                          error="wrong name or password", proxy=False)  # fmt: skip
        request.session.clear()  # a new session on sign-in: no fixation
        request.session["user"] = user.name
        return RedirectResponse(safe_next(next), status_code=303)

    @app.post("/logout", dependencies=[Depends(check_csrf)])
    def logout(request: Request) -> RedirectResponse:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/alerts", status_code=303)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}


def _alert_routes(app: FastAPI) -> None:
    @app.get("/alerts")
    def alert_list(request: Request, user: Reader, page: int = 1):
        filters = {k: request.query_params.get(k, "") for k in queries.FILTERS}
        found = queries.alert_list(request.app.state.warehouse, filters, page)
        return render(request, "alerts.html", found=found, filters=filters)

    @app.get("/alerts/{alert_id}")
    def alert_page(request: Request, alert_id: int, user: Reader):
        settings = request.app.state.settings
        page = queries.alert_page(
            request.app.state.warehouse, alert_id, settings.config_dir / "alert_rules.yaml"
        )
        if page is None:
            raise HTTPException(404, f"alert #{alert_id} does not exist")
        return render(request, "alert.html", page=page, chart=_chart(request, page),
                      silence_keys=SILENCE_KEYS)  # fmt: skip

    @app.post("/alerts/{alert_id}/ack", dependencies=[Depends(check_csrf)])
    def ack(request: Request, alert_id: int, user: Analyst):
        store.acknowledge(request.app.state.warehouse, alert_id, user.name, _now())
        return _back(request, f"/alerts/{alert_id}", f"acknowledged by {user.name}")

    @app.post("/alerts/{alert_id}/label", dependencies=[Depends(check_csrf)])
    def label(
        request: Request, alert_id: int, label: FormText, user: Analyst, comment: FormText = ""
    ):
        if label not in LABELS:
            raise HTTPException(422, f"label must be one of {', '.join(LABELS)}")
        store.label_alert(request.app.state.warehouse, alert_id, label, user.name, _now(), comment)
        return _back(request, f"/alerts/{alert_id}", f"labelled {label} by {user.name}")

    @app.post("/alerts/{alert_id}/silence", dependencies=[Depends(check_csrf)])
    async def silence(request: Request, alert_id: int, user: Analyst):
        form = await request.form()
        matcher = {k: str(form[f"match_{k}"]) for k in SILENCE_KEYS if form.get(f"use_{k}")}
        try:
            hours = float(str(form.get("hours", "")))
            now = _now()
            made = new_silence(
                matcher, user.name, str(form.get("comment", "")), now,
                now + dt.timedelta(hours=hours),
            )  # fmt: skip
            if not matcher:
                raise SilenceError("tick at least one matcher (e.g. rule_id)")
        except (ValueError, SilenceError) as exc:
            return _back(request, f"/alerts/{alert_id}", f"not silenced: {exc}")
        silence_id = repository.add_silence(request.app.state.warehouse, made)
        return _back(request, f"/alerts/{alert_id}", f"silence #{silence_id}: {made.describe()}")


def _chart(request: Request, page: queries.AlertPage) -> str | None:
    return queries.series_chart(request.app.state.warehouse, page.alert)


def _other_routes(app: FastAPI) -> None:
    @app.get("/rules")
    def rules(request: Request, user: Reader):
        warehouse = request.app.state.warehouse
        precision = store.precision_by_rule(warehouse).to_dict("records")
        weekly = queries.alerts_per_week(warehouse)
        backtests = queries.latest_backtests(warehouse)
        return render(
            request, "rules.html", precision=precision, weekly=weekly, backtests=backtests
        )

    @app.get("/briefs")
    def briefs(request: Request, user: Reader):
        found = queries.briefs(request.app.state.settings.briefs_dir)
        return render(request, "briefs.html", briefs=found)

    @app.get("/briefs/{name}")
    def brief(request: Request, name: str, user: Reader):
        path = queries.brief_path(request.app.state.settings.briefs_dir, name)
        if path is None:
            raise HTTPException(404, f"no brief {name!r}")
        return FileResponse(path, media_type="text/html")
