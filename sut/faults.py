"""The fault catalogue: named, realistic defects that can be switched on to prove the harness catches them.

Each fault is a defect a real team could ship. It is switched on with ``SUT_FAULTS=name,...`` or
``python -m sut --faults name,...`` and, in test mode, at run time through the control API. The code that
carries a fault asks ``faults.active("name")`` at the exact place where the defect would live.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """A defect: where it lives, what it does, the requirements it breaks, and the harness layers (suites/<layer>)
    expected to catch it. The detection matrix (nox -s detection) runs exactly those layers with the fault on and
    proves each one catches it by naming one of ``breaks``; the project's tests check that every expected layer has
    tests naming one of them."""

    name: str
    component: str
    description: str
    breaks: tuple[str, ...]
    layers: tuple[str, ...]


CATALOGUE: dict[str, Fault] = {
    f.name: f
    for f in (
        # identity and session
        Fault("samordningsnummer-login", "idp",
              "The identity provider logs in a samordningsnummer instead of refusing it.", ("BR-ID-1",),
              ("api",)),
        Fault("deceased-login", "idp", "A person registered as deceased can still log in.", ("BR-ID-1",),
              ("api",)),
        Fault("protected-address-leak", "api",
              "The profile returns the address of a person with protected identity.", ("BR-ID-1", "OSL-21-3"),
              ("api",)),
        Fault("session-never-expires", "api",
              "The 30-minute idle timeout is not enforced.", ("BR-ID-2", "OSL-25-1"),
              ("api", "security")),
        Fault("refresh-token-reuse", "idp",
              "Refresh tokens are not rotated: an old refresh token keeps working.", ("BR-ID-2",),
              ("security",)),
        Fault("sso-ticket-replay", "idp",
              "An SSO ticket can be used more than once.", ("BR-ID-3",),
              ("web", "security")),
        # regions and services
        Fault("region-not-joined-served", "api",
              "A user whose region has not joined gets the in-app service catalogue instead of a redirect.",
              ("BR-REG-1",),
              ("api", "web", "mobile")),
        Fault("min-version-ignored", "api",
              "An app older than the minimum supported version is served instead of getting HTTP 426.",
              ("BR-REG-3",),
              ("api", "mobile")),
        Fault("print-shown-in-app", "web",
              "Web e-services show print and download buttons inside the app's WebView.", ("BR-REG-3",),
              ("web",)),
        # inbox, proxies, audit
        Fault("idor-message", "api",
              "A message is returned by id without checking that it belongs to the caller (IDOR).",
              ("BR-INBOX-1", "PDL-5-5"),
              ("api",)),
        Fault("ombud-teen", "api",
              "A guardian may act for a child of 13 or older.", ("BR-PROXY-1", "OSL-12-3"),
              ("api", "mobile")),
        Fault("journal-as-ombud", "api",
              "Journal entries are available to a guardian acting as ombud.", ("BR-PROXY-1", "PDL-5-5-OMBUD"),
              ("api", "compliance")),
        Fault("audit-skip-message-read", "api",
              "Opening a message writes no audit record.", ("BR-AUDIT-1", "PDL-4-3"),
              ("api", "compliance")),
        Fault("erasure-deletes-records", "api",
              "An erasure request also deletes the patient's messages (health records).",
              ("BR-GDPR-1", "GDPR-17", "PDL-3-14"),
              ("compliance",)),
        Fault("staff-any-patient", "staff",
              "Staff can message a patient with whom their care unit has no care relation.",
              ("BR-STAFF-1", "PDL-4-1"),
              ("api",)),
        # security and errors
        Fault("missing-csp", "web", "Pages are served without a Content-Security-Policy header.", ("BR-SEC-1",),
              ("security",)),
        Fault("stacktrace-leak", "api",
              "Unexpected errors return the Python traceback to the client.", ("BR-SEC-1",),
              ("security",)),
        Fault("unicode-name-500", "staff",
              "A message subject or sender name with å, ä or ö makes the staff API answer 500.", ("BR-SEC-1",),
              ("api",)),
        Fault("pnr-in-url", "web",
              "The web login flow puts the personnummer in a URL query string.", ("BR-SEC-1", "OSL-25-1"),
              ("security",)),
        # accessibility
        Fault("img-missing-alt", "web", "The logo image on every page has no alt text.", ("BR-A11Y-1",),
              ("a11y",)),
        Fault("low-contrast-dark", "web",
              "In dark mode, secondary text fails the 4.5:1 contrast ratio.", ("BR-A11Y-1",),
              ("a11y",)),
        Fault("unlabelled-input", "web",
              "The notification settings form has checkboxes without labels.", ("BR-A11Y-1",),
              ("a11y",)),
        # push fan-out (BR-NOTIF-*)
        Fault("push-duplicate-on-retry", "push",
              "A retry after a timeout sends again with a new idempotency key, so the device gets it twice.",
              ("BR-NOTIF-4",),
              ("load",)),
        Fault("push-to-pruned-token", "push",
              "A token deactivated by 410/UNREGISTERED is still sent to.", ("BR-NOTIF-4",),
              ("load",)),
        Fault("push-subject-in-payload", "push",
              "The push payload carries the message subject.", ("BR-NOTIF-3", "GDPR-5-1-c", "OSL-25-1"),
              ("compliance",)),
        Fault("push-retry-after-ignored", "push",
              "A 429 is retried at once, ignoring retry-after.", ("BR-NOTIF-4",),
              ("load",)),
        Fault("device-reregister-duplicates", "api",
              "Re-registering a device adds a second token instead of replacing the first.", ("BR-NOTIF-4",),
              ("load",)),
        Fault("push-guardian-of-teen", "push",
              "The guardian of a child of 13 or older is notified of the child's messages.",
              ("BR-NOTIF-2", "OSL-12-3"),
              ("compliance",)),
        Fault("sms-when-disabled", "push",
              "An SMS is sent although the user turned SMS off.", ("BR-NOTIF-1", "BR-NOTIF-2"),
              ("compliance",)),
        Fault("acting-for-ignored", "api",
              "X-Acting-For is ignored by operations that do not declare it: a guardian acting for a child exports, "
              "erases or changes their own data instead.", ("BR-PROXY-1",),
              ("api",)),
        Fault("login-reveals-reason", "idp",
              "A refused login says why (unknown, deceased, samordningsnummer), so anyone can tell who exists.",
              ("BR-ID-1", "BR-SEC-1"),
              ("api",)),
        # text and identifier rules (sut/text.py)
        Fault("text-unfiltered", "staff",
              "Message text may be blank or hold control characters and bidirectional overrides, and a "
              "personnummer may be written in Arabic-Indic or full-width digits.", ("BR-SEC-1", "BR-INBOX-1"),
              ("api",)),
        # boundaries: changes after login, the edges of age and time rules, care relations across units
        Fault("refresh-skips-person-check", "idp",
              "A refresh token keeps working after its person died, got a samordningsnummer or moved to a region "
              "that has not joined: the refresh does not check the person again.", ("BR-ID-1", "BR-ID-2"),
              ("api",)),
        Fault("ombud-age-off-by-one", "api",
              "A child counts as under 13 on the 13th birthday itself, so the guardian is still ombud that day.",
              ("BR-PROXY-1", "OSL-12-3"),
              ("api",)),
        Fault("idle-timeout-off-by-minutes", "api",
              "The idle timeout is 35 minutes instead of 30: five minutes' grace for clock skew.", ("BR-ID-2",),
              ("api",)),
        Fault("sso-ticket-ttl-long", "idp",
              "An SSO ticket is valid for 120 seconds instead of 60.", ("BR-ID-3",),
              ("api",)),
        Fault("staff-unit-is-region", "staff",
              "Staff of any care unit in a region where the patient has a care relation reach the patient, not only "
              "staff of the related unit.", ("BR-STAFF-1", "PDL-4-1"),
              ("api",)),
        Fault("cross-region-care-relation-ignored", "staff",
              "A care relation with a unit in another region than the patient's is ignored, so that unit's staff "
              "cannot reach its own patient.", ("BR-STAFF-1",),
              ("api",)),
        # whose data an answer holds: caught by the API layer's oracles of ownership, not by a test aimed at each
        Fault("device-list-all", "api",
              "The device list shows every active installation in the system, not only the caller's own.",
              ("BR-NOTIF-1", "GDPR-5-1-c"),
              ("api",)),
        Fault("audit-extract-others", "api",
              "The log extract shows the accesses at the patient's care units, so lines about other patients too.",
              ("BR-AUDIT-1", "PDL-8-5", "PDL-5-5"),
              ("api",)),
        Fault("staff-read-other-unit", "staff",
              "Staff can read a message another care unit sent to a patient their own unit has no care relation "
              "with.", ("BR-STAFF-1", "PDL-4-1"),
              ("api",)),
        Fault("booking-list-ignores-acting-for", "api",
              "The booking list ignores X-Acting-For: a guardian acting for a child gets their own bookings as if "
              "they were the child's.", ("BR-PROXY-1", "PDL-5-5"),
              ("api",)),
        Fault("webview-login-loop", "web",
              "A web session that expires inside the app's WebView sends it to the login page instead of asking "
              "the app for SSO again, so the user logs in over and over.", ("BR-ID-3",),
              ("web",)),
        Fault("sso-cookie-lost", "web",
              "The web session cookie from the SSO hand-over is set for the /sso path only, so the WebView's next "
              "page has no session and asks for SSO again.", ("BR-ID-3",),
              ("web",)),
        Fault("keyboard-trap", "web",
              "The notification settings form keeps keyboard focus: Tab and Shift+Tab only go round its fields.",
              ("BR-A11Y-1", "WCAG-2-1-2"),
              ("a11y",)),
        # security
        Fault("token-in-log", "idp",
              "The token endpoint writes the issued access and refresh tokens to the system's log.",
              ("BR-SEC-1", "CSL-2-3"),
              ("security",)),
        Fault("open-redirect", "web",
              "The 'next' address after login, SSO and switching ombud may point at another site.",
              ("BR-SEC-1", "CSL-2-3"),
              ("security",)),
        Fault("cors-any-origin", "api",
              "The APIs answer any Origin with Access-Control-Allow-Origin set to it, credentials allowed.",
              ("BR-SEC-1", "CSL-2-3"),
              ("security",)),
        Fault("token-not-yet-valid-accepted", "api",
              "An access token whose nbf (not before) lies in the future is accepted.", ("BR-ID-2", "CSL-2-3"),
              ("security",)),
        # load (the push fan-out under load)
        Fault("push-slow-with-audience", "push",
              "A bulk send is paced per recipient with the audience size in the wrong place: each send waits "
              "audience / 200,000 s, so the larger the audience, the slower every delivery of it.",
              ("BR-PERF-2",),
              ("load",)),
        # compliance: the legal duties of the records the system keeps (suites/compliance)
        Fault("audit-ombud-as-self", "api",
              "A read made as ombud is logged with the role self, so the log hides that a guardian, not the patient, "
              "read the data.", ("BR-AUDIT-1", "BR-PROXY-1", "PDL-4-3"),
              ("compliance",)),
        Fault("audit-extract-hides-staff", "api",
              "The log extract leaves out the reads by care staff, so the patient cannot see who at the care unit "
              "read their data.", ("BR-AUDIT-1", "PDL-8-5", "HSLF-FS-2016-40-4-10"),
              ("compliance",)),
        Fault("export-omits-hidden", "api",
              "The data export leaves out the messages the patient removed from the inbox, though the system keeps "
              "them.", ("BR-GDPR-1", "GDPR-15"),
              ("compliance",)),
        Fault("erasure-keeps-devices", "api",
              "An erasure request leaves the patient's registered devices and their push tokens in place.",
              ("BR-GDPR-1", "GDPR-17"),
              ("compliance",)),
        Fault("consent-withdrawal-deletes", "api",
              "Withdrawing a consent deletes its record, so when it was given, on which text version, and when it "
              "was withdrawn can no longer be shown.", ("BR-GDPR-1", "GDPR-7"),
              ("compliance",)),
        Fault("email-on-by-default", "api",
              "A person who has chosen no notification channels gets e-mail notifications as if they had turned "
              "them on.", ("GDPR-25",),
              ("compliance",)),
        Fault("delivery-retention-skipped", "push",
              "The retention job never deletes delivery records: the push tokens, phone numbers and e-mail "
              "addresses of every notification are kept for ever.", ("BR-RETENTION-1", "GDPR-5-1-e"),
              ("compliance",)),
    )
}

_lock = threading.Lock()
_active: frozenset[str] = frozenset()


class UnknownFaultError(ValueError):
    def __init__(self, unknown: Iterable[str]) -> None:
        self.unknown = sorted(unknown)
        known = ", ".join(sorted(CATALOGUE))
        super().__init__(f"unknown fault(s): {', '.join(self.unknown)}; known faults: {known}")


def parse(spec: str | Iterable[str] | None) -> frozenset[str]:
    """Parse 'a,b' (or a list) into fault names; an unknown name is an error that lists the known ones."""
    if spec is None:
        return frozenset()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = frozenset(n.strip() for n in items if n.strip())
    unknown = names - CATALOGUE.keys()
    if unknown:
        raise UnknownFaultError(unknown)
    return names


def activate(names: Iterable[str]) -> frozenset[str]:
    global _active
    checked = parse(list(names))
    with _lock:
        _active = checked
    return _active


def active(name: str) -> bool:
    """True when the named fault is switched on. A typo here is a bug in sut/, so it raises."""
    if name not in CATALOGUE:
        raise KeyError(f"fault {name!r} is not in the catalogue")
    return name in _active


def current() -> frozenset[str]:
    return _active
