"""Signing in and out, the home page, and the user's own settings (language).

The sign-in answers the same for an unknown email and a wrong password, and counts failures per
email and per address (`cp.accounts.throttled`): past the limit it answers 429 with the wait.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from synkro.controlplane.users import User
from synkro.web.access import controlplane, optional_user, signed_in, tenants_of
from synkro.web.config import LANG_COOKIE
from synkro.web.i18n import LANGUAGES
from synkro.web.templating import render

router = APIRouter()


def safe_next(value: str | None) -> str:
    """Only a path on this site: `/t/acme/runs` yes, `//evil.example` or `https://…` no."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if optional_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", next=safe_next(next), email="", error=None)


@router.post("/login")
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    cp = controlplane(request)
    address = client_address(request)
    wait = cp.accounts.throttled(email, address)
    if wait is not None:
        minutes = max(1, round(wait.retry_after / 60))
        response = render(
            request,
            "login.html",
            status_code=429,
            next=safe_next(next),
            email=email,
            error=("login.throttled", {"minutes": minutes}),
        )
        response.headers["Retry-After"] = str(wait.retry_after)
        return response
    user = cp.accounts.verify(email, password)
    if user is None:
        cp.accounts.record_failure(email, address)
        return render(
            request,
            "login.html",
            status_code=401,
            next=safe_next(next),
            email=email,
            error=("login.invalid", {}),
        )
    cp.accounts.clear_failures(email)
    request.session.clear()
    request.session["token"] = cp.accounts.open_session(
        user, address=address, user_agent=request.headers.get("user-agent")
    )
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    controlplane(request).accounts.close_session(request.session.get("token"))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(request: Request, user: User = Depends(signed_in)) -> Response:
    tenants = tenants_of(request, user)
    if len(tenants) == 1 and not user.is_super_admin:
        return RedirectResponse(f"/t/{tenants[0].slug}", status_code=303)
    return render(request, "home.html", tenants=tenants)


@router.get("/account")
def account_page(request: Request, user: User = Depends(signed_in)) -> Response:
    return render(request, "account.html", saved=False)


@router.post("/account")
def account_save(request: Request, lang: str = Form(""), user: User = Depends(signed_in)) -> Response:
    if lang not in LANGUAGES:
        raise HTTPException(status_code=400, detail=f"lang: expected one of {', '.join(LANGUAGES)}")
    controlplane(request).accounts.set_language(user.id, lang)
    request.state.lang = lang
    response = render(request, "account.html", saved=True)
    # The remembered `?lang=` choice would otherwise outrank the setting just saved.
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response
