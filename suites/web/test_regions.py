"""Regions: one that has not joined hands the user to 1177.se (BR-REG-1); the video meeting link per region
(BR-REG-2)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from pages import RegionNotJoinedPage, VideoPage
from playwright.sync_api import expect

# Regions of the default seed by how they hold video meetings (sut/seed.py: Inera's service, a regional one with
# SSO, a regional one in the external browser).
VIDEO_REGIONS = {"inera": "01", "regional-sso": "03", "external": "04"}


@pytest.mark.req("BR-REG-1")
def test_region_not_joined_hands_over_to_1177_se(new_context, profile_name, new_person, web_login, web_url,
                                                 flipbook):
    """En användare i en region som inte anslutit skickas till 1177.se och når inga e-tjänster i appen."""
    person = new_person("adult-not-joined")
    page = new_context(profile_name).new_page()
    web_login(page, person)
    notice = RegionNotJoinedPage(page, web_url)
    assert notice.current_path == notice.path, "after login only the page that sends the user on"
    flipbook(page, "Använd 1177.se")
    link = notice.find("external")
    assert urlsplit(link.get_attribute("href")).hostname in {"www.1177.se", "1177.se"}
    assert link.get_attribute("target") == "_blank" and "external" in link.get_attribute("rel")
    notice.open("/inbox")
    assert notice.current_path == notice.path, "no e-service opens for a region that has not joined"


@pytest.mark.req("BR-REG-2")
@pytest.mark.parametrize("mode", list(VIDEO_REGIONS))
def test_video_meeting_link_per_region(new_context, profile_name, profiles, new_person, web_login, web_url,
                                       mode, flipbook):
    """Länken till videomötet följer regionens videotjänst: inbäddad, i appen med SSO eller i webbläsaren."""
    person = new_person("adult", region=VIDEO_REGIONS[mode], bookings=4)
    page = new_context(profile_name).new_page()
    web_login(page, person, next_path="/video")
    video = VideoPage(page, web_url)
    assert video.mode() == mode
    join = video.find("join").first
    expect(join).to_be_visible()
    flipbook(page, f"Videomöten ({mode})")
    href, opens_in = join.get_attribute("href"), join.get_attribute("data-open-in")
    in_app = profiles[profile_name].in_app
    if mode == "inera":
        assert href.startswith("/video/") and opens_in is None, "Inera's service is embedded in 1177"
        join.click()
        page.wait_for_url(f"**{href}")
        flipbook(page, "Väntrummet")
    elif mode == "regional-sso" and in_app:
        assert href.startswith("se.1177.appen://sso/open?") and opens_in == "webview-sso", href
    else:
        assert urlsplit(href).scheme == "https" and "ticket" not in href, "a plain link, without SSO"
        if mode == "external":
            assert opens_in == "external-browser" and join.get_attribute("target") == "_blank"
