"""Issue 10: signing in with roles, in a real browser against the real app and Postgres."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.portal import PHONE, Portal, screenshot, sign_in


def test_sign_in_wrong_password_then_right_one_and_sign_out(portal: Portal, page) -> None:
    slug = portal.tenant()
    admin = portal.account("admin", slug)
    page.goto(f"{portal.url}/t/{slug}")
    assert "/login" in page.url  # not signed in: to the form, and back afterwards
    screenshot(page, "login")
    page.fill("input[name=email]", admin.email)
    page.fill("input[name=password]", "not the password")
    page.click("[data-testid=login-submit]")
    assert "Неверная почта или пароль" in page.inner_text("[data-testid=login-error]")
    page.fill("input[name=password]", admin.password)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(f"{portal.url}/t/{slug}")
    assert page.locator("h1").inner_text() == f"Company {slug}"
    page.click("[data-testid=logout]")
    page.wait_for_url(f"{portal.url}/login")
    page.goto(f"{portal.url}/t/{slug}")
    assert "/login" in page.url


def test_english_with_lang_query_and_user_setting(portal: Portal, page) -> None:
    viewer = portal.account("viewer", portal.tenant())
    page.goto(f"{portal.url}/login?lang=en")
    assert page.locator("[data-testid=login-submit]").inner_text() == "Sign in"
    page.goto(f"{portal.url}/login")  # remembered for the visit
    assert page.locator("[data-testid=login-submit]").inner_text() == "Sign in"
    page.context.clear_cookies()
    sign_in(page, portal, viewer, "/account")
    assert page.locator("h1").inner_text() == "Мой профиль"
    page.select_option("select[name=lang]", "en")
    page.click("[data-testid=save]")
    page.goto(f"{portal.url}/")
    assert "Companies" in page.inner_text("main") or page.url.endswith(viewer.tenant or "")


def test_login_is_throttled_after_ten_failures(portal: Portal) -> None:
    viewer = portal.account("viewer", portal.tenant())
    # From an address of its own (the whole loopback range is ours), so that the address's
    # failures do not lock the other tests' sign-ins out.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=portal.url, transport=transport) as http:
        http.get("/login")
        token = http.cookies["csrftoken"]
        form = {"email": viewer.email, "password": "wrong", "csrftoken": token}
        codes = [http.post("/login", data=form).status_code for _ in range(10)]
        assert codes == [401] * 10
        # The right password does not get through either until the window has passed.
        blocked = http.post("/login", data=form | {"password": viewer.password})
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0
        assert "Попробуйте снова через" in blocked.text
        # Ten failures from one address lock that address out for any email...
        other = portal.account("viewer", viewer.tenant)
        assert http.post("/login", data=form | {"email": other.email}).status_code == 429
    # From another address the locked-out email still waits, and other emails get in.
    with httpx.Client(base_url=portal.url, transport=httpx.HTTPTransport(local_address="127.0.0.3")) as http:
        http.get("/login")
        form = {"email": viewer.email, "password": viewer.password, "csrftoken": http.cookies["csrftoken"]}
        assert http.post("/login", data=form).status_code == 429
        form = {"email": other.email, "password": other.password, "csrftoken": http.cookies["csrftoken"]}
        assert http.post("/login", data=form, follow_redirects=False).status_code == 303


def test_post_without_csrf_token_is_refused(portal: Portal) -> None:
    viewer = portal.account("viewer", portal.tenant())
    with httpx.Client(base_url=portal.url) as http:
        http.get("/login")
        refused = http.post("/login", data={"email": viewer.email, "password": viewer.password})
        assert refused.status_code == 403
        assert "token" in refused.text
        forged = http.post(
            "/login", data={"email": viewer.email, "password": viewer.password, "csrftoken": "forged"}
        )
        assert forged.status_code == 403
        assert "synkro_session" not in http.cookies


def test_session_cookie_is_httponly_and_lax(portal: Portal, page) -> None:
    viewer = portal.account("viewer", portal.tenant())
    sign_in(page, portal, viewer, "/account")
    cookie = next(c for c in page.context.cookies() if c["name"] == "synkro_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_password_reset_ends_open_sessions(portal: Portal, page) -> None:
    viewer = portal.account("viewer", portal.tenant())
    sign_in(page, portal, viewer, "/account")
    portal.cp.accounts.set_password(viewer.email, "a-brand-new-password", actor="tests")
    page.goto(f"{portal.url}/account")
    assert "/login" in page.url


@pytest.mark.parametrize("viewport", [PHONE])
def test_login_page_fits_a_phone(portal: Portal, page, viewport) -> None:
    page.set_viewport_size(viewport)
    page.goto(f"{portal.url}/login")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"]
    screenshot(page, "login-phone")
