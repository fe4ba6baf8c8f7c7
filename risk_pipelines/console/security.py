"""Sign-in, roles and CSRF for the console's pages and forms.

Sessions are Starlette's signed cookies (HttpOnly, SameSite=Lax, Secure when the console is
served over https); the session holds the user's name and a CSRF token, nothing else. Every
form carries the token and every write checks it, so a page on another site cannot post on a
signed-in analyst's behalf; every write also records the signed-in user, never a typed name.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from risk_pipelines.config import ConsoleSettings
from risk_pipelines.console.auth import User, known_user, load_users

SESSION_COOKIE = "risk_console"
SESSION_SECONDS = 12 * 3600
_UNKNOWN = object()  # not looked up yet in this request (None: looked up, nobody)


class SignInRequired(Exception):
    """Raised by a page for a visitor who is not signed in: they are sent to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def signed_in_user(request: Request, console: ConsoleSettings) -> User | None:
    """Who made this request; the users file is read once per request (the route's check and
    the page's header ask both)."""
    known = getattr(request.state, "user", _UNKNOWN)
    if known is not _UNKNOWN:
        return known
    if console.auth == "proxy":
        # Only behind a proxy that sets (and strips from clients) this header: the docs say so.
        user = known_user(console.users_file, request.headers.get(console.proxy_header))
    else:
        name = request.session.get("user")
        # A user removed from the file is signed out at their next request.
        user = load_users(console.users_file).get(name, (None, None))[0] if name else None
    request.state.user = user
    return user


def require_user(request: Request) -> User:
    user = signed_in_user(request, request.app.state.console)
    if user is None:
        if request.method == "GET":
            raise SignInRequired(request.url.path)
        raise HTTPException(401, "sign in first")
    return user


def require_analyst(request: Request) -> User:
    user = require_user(request)
    if not user.can_write:
        raise HTTPException(403, f"{user.name} is a viewer: only analysts change alerts")
    return user


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    """Every POST: the form's token must equal the session's."""
    form = await request.form()
    sent, expected = str(form.get("csrf_token", "")), request.session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page")


# What a route declares it needs: signed in (a viewer or an analyst), or signed in and an analyst.
Reader = Annotated[User, Depends(require_user)]
Analyst = Annotated[User, Depends(require_analyst)]
FormText = Annotated[str, Form()]


def to_sign_in(exc: SignInRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


def safe_next(path: str | None) -> str:
    """Only a path on this site: never an open redirect to another one."""
    if not path or not path.startswith("/") or path.startswith("//"):
        return "/alerts"
    return path
