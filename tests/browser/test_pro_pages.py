"""The professional's pages in Chromium: "Mes patients" at 390 px without horizontal scroll,
the emergency form's danger button red, the emergency banner's patient link readable (WCAG AA,
contrast >= 4.5:1)."""

from __future__ import annotations

from typing import Any

import pytest

from identity.models import Patient, Professional
from tests.browser.conftest import screenshot
from tests.browser.test_emergency_journey import _login, open_emergency_form
from tests.cast import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DANGER = "rgb(179, 38, 30)"  # --danger

CONTRAST = """(selector) => {
  const parse = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const link = document.querySelector(selector);
  let node = link, background = "rgba(0, 0, 0, 0)";
  while (node && /rgba\\(0, 0, 0, 0\\)|transparent/.test(background)) {
    background = getComputedStyle(node).backgroundColor; node = node.parentElement;
  }
  const [a, b] = [lum(parse(getComputedStyle(link).color)), lum(parse(background))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_my_patients_fits_a_phone(
    live_server: Any, page: Any, alice: Patient, doctor: Professional
) -> None:
    base = live_server.url
    _login(page, base, doctor.user.email, totp=True)
    page.wait_for_url(f"{base}/")
    assert "DUPONT Alice Marie" in page.locator(".my-patients-table").inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    screenshot(page, "pro/test-my-patients-390")


def test_danger_button_and_banner_contrast(
    live_server: Any, page: Any, alice: Patient, stranger_doctor: Professional
) -> None:
    base = live_server.url
    _login(page, base, stranger_doctor.user.email, totp=True)
    page.wait_for_url(f"{base}/")
    open_emergency_form(page, base, alice.insc)
    assert "DUPONT Alice Marie" in page.locator(".emergency-target").inner_text()
    button = page.get_by_role("button", name="Déclarer l'urgence et accéder")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == DANGER
    screenshot(page, "pro/test-emergency-form")
    page.get_by_label("Motif de l'urgence").select_option("vital")
    button.click()
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Confirmer").click()
    assert page.locator(".banner-emergency a").is_visible()
    ratio = page.evaluate(CONTRAST, ".banner-emergency a")
    assert ratio >= 4.5, ratio
    screenshot(page, "pro/test-emergency-banner")


@pytest.mark.parametrize(
    "url", ["/admin/identity/professional/", "/admin/records/emergencyaccess/"]
)
def test_admin_lists_show_every_column_on_a_desktop(
    live_server: Any,
    page: Any,
    url: str,
    administrator: Any,
    unverified_doctor: Professional,
    emergency_doctor: Professional,
) -> None:
    from allauth.mfa.totp.internal.auth import TOTP

    from tests.cast import TOTP_SECRET

    TOTP.activate(administrator, TOTP_SECRET)
    base = live_server.url
    _login(page, base, administrator.email, totp=True)
    page.goto(base + url)
    widths = page.evaluate(
        "() => { const t = document.querySelector('#result_list');"
        " return [t.scrollWidth, t.closest('.results').clientWidth]; }"
    )
    assert widths[0] <= widths[1], widths  # nothing cut off at 1280 px
    screenshot(page, "pro/test-admin-" + url.strip("/").replace("/", "-"))
