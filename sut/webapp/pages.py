"""The e-service pages. The domain logic (and its audit records) lives in ``sut/services.py``; these handlers only
check who is asking (``visit``), check the CSRF token of every form, and render."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from .. import services
from ..auth import resolve_subject
from ..context import Context
from ..links import app_link
from ..problems import Problem
from . import dates
from .session import Visit, WebRoute, safe_next, visit

PUSH_CONSENT_VERSION = "push-sv-2026-01"
AUDIT_PAGE_SIZE = 25
OMBUD_NOT_ALLOWED = "urn:1177:problem:ombud-not-allowed"
APP_SSO_OPEN = app_link("sso/open")  # the app fetches a ticket for the audience and opens the URL (BR-ID-3)

ACTION_TEXTS = {
    "inbox.list": "Visade inkorgen",
    "message.read": "Läste ett meddelande",
    "message.mark-read": "Markerade ett meddelande som läst",
    "message.hide": "Tog bort ett meddelande ur inkorgen",
    "booking.list": "Visade bokade tider",
    "booking.cancel": "Avbokade en tid",
    "journal.read": "Läste journalen",
    "settings.update": "Ändrade aviseringar",
    "audit.extract": "Visade loggutdraget",
    "data.export": "Hämtade en kopia av uppgifterna",
    "data.erasure": "Begärde radering",
}
ROLE_TEXTS = {"self": "Du själv", "ombud": "Ombud (vårdnadshavare)", "staff": "Vårdpersonal"}
DATA_TEXTS = {
    "devices": "Registrerade enheter och deras push-adresser",
    "notification_settings": "Dina val för aviseringar",
    "consents": "Dina samtycken",
    "messages": "Meddelanden från vården",
    "bookings": "Bokade och avbokade tider",
    "journal_entries": "Journalanteckningar",
    "audit_records": "Loggar över vem som har läst dina uppgifter",
}
NATIVE_PATHS = {"start": "/", "inbox": "/inbox", "bookings": "/bookings", "settings": "/settings"}


def _self_only(v: Visit) -> None:
    """Journal, log extract, one's own data, devices and consents, video meetings and the region's services are
    one's own: never reached as ombud (BR-PROXY-1, PDL 5 kap. 5 §)."""
    if v.acting:
        raise Problem(403, "Det här går inte att göra som ombud.", type_=OMBUD_NOT_ALLOWED)


@dataclass(frozen=True)
class WantedExtract:
    """The log extract's query string, read leniently: a value that makes no sense is dropped and said so."""

    only: services.ExtractFilter
    page: int
    fields: dict[str, str]  # what the form shows and the paging links carry
    errors: list[str]


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _midnight(day: date) -> datetime:
    """The start of a day in Sweden, in UTC as the log stores it."""
    return datetime.combine(day, time(), dates.SWEDEN).astimezone(UTC)


def _extract_filter(*, page: str, from_: str, to: str, role: str, unit: str, upto: str) -> WantedExtract:
    errors = []
    first, last = _day(from_), _day(to)
    if (from_ and first is None) or (to and last is None):
        errors.append("Skriv datum som ÅÅÅÅ-MM-DD, till exempel 2026-03-01.")
    if first and last and first > last:
        errors.append("Datumet ”från och med” ska vara före ”till och med”.")
        first = last = None
    role = role if role in ROLE_TEXTS else ""
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    pinned = int(upto) if upto.isdigit() and len(upto) < 19 else None
    only = services.ExtractFilter(since=_midnight(first) if first else None,
                                  until=_midnight(last + timedelta(days=1)) if last else None,
                                  role=role or None, care_unit_id=unit or None, upto=pinned,
                                  offset=(number - 1) * AUDIT_PAGE_SIZE, limit=AUDIT_PAGE_SIZE)
    fields = {"from": first.isoformat() if first else "", "to": last.isoformat() if last else "", "role": role,
              "unit": unit if len(unit) <= 40 else ""}
    return WantedExtract(only=only, page=number, fields=fields, errors=errors)


def _extract_view(wanted: WantedExtract, result: dict[str, Any]) -> dict[str, Any]:
    """What the template shows: the rows, "visar 26–50 av 312", and links to the pages either side, which keep
    the filters and stay on the records there were when the user started (``upto``)."""
    total, rows = result["total"], result["entries"]
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))

    def link(number: int) -> str | None:
        if not 1 <= number <= pages:
            return None
        query = {k: v for k, v in wanted.fields.items() if v}
        if result["upto"] is not None:
            query["upto"] = str(result["upto"])
        return f"/audit-extract?{urlencode({**query, 'page': str(number)})}"

    return {"rows": rows, "total": total, "first": wanted.only.offset + 1 if rows else 0,
            "last": wanted.only.offset + len(rows), "page": wanted.page, "pages": pages,
            "previous": link(min(wanted.page - 1, pages)), "next": link(wanted.page + 1),
            "fields": wanted.fields, "errors": wanted.errors, "care_units": result["care_units"],
            "filtered": any(wanted.fields.values())}


def _app_sso_link(audience: str, url: str) -> str:
    return f"{APP_SSO_OPEN}?{urlencode({'audience': audience, 'url': url})}"


def _checked(value: str | None) -> bool:
    return value in {"on", "true", "1"}


def create_pages_router(ctx: Context) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=WebRoute)

    @router.get("/")
    def start(request: Request) -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            summary = services.start_summary(db, v.principal, v.subject)
            return v.page("start.html", nav="start", summary=summary)

    # --- inbox (BR-INBOX-1) ---------------------------------------------------------------------------------------

    @router.get("/inbox")
    def inbox(request: Request, status: str = "") -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            messages = services.list_messages(db, v.principal, v.subject)
            return v.page("inbox.html", nav="inbox", messages=messages, removed=status == "removed")

    @router.get("/inbox/{message_id}")
    def message(request: Request, message_id: str,
                acting_for: Annotated[str, Query(max_length=64)] = "") -> Response:
        """``acting_for`` comes from a push's deep link about a child's message: while the user acts for someone
        else, one tap switches to the child (the same check as every switch decides, BR-PROXY-1)."""
        with ctx.db() as db:
            v = visit(ctx, request, db)
            current = v.subject.person.id if v.acting else None
            if acting_for and acting_for != current:
                chosen = resolve_subject(db, v.person, acting_for)  # 403 if the user may not act for them
                if chosen.role == "ombud":
                    return v.page("message_switch.html", nav="inbox", child=chosen.person,
                                  next=f"/inbox/{message_id}")
            view = services.open_message(db, v.principal, v.subject, message_id)  # audited (BR-AUDIT-1)
            services.mark_read(db, v.principal, v.subject, message_id)
            return v.page("message.html", nav="inbox", message=view)

    @router.get("/inbox/{message_id}/download")
    def message_download(request: Request, message_id: str) -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            view = services.open_message(db, v.principal, v.subject, message_id)
        unit = (view.get("care_unit") or {}).get("name", view["sender_name"])
        # A saved file outlives "i dag": the date in full, in Swedish time.
        sent = dates.text(view["created_at"], relative=False)
        text = f"{view['subject']}\nFrån: {unit}\nSkickat: {sent}\n\n{view['body']}\n"
        return Response(text, media_type="text/plain; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="meddelande-1177.txt"'})

    @router.post("/inbox/{message_id}/delete")
    def message_delete(request: Request, message_id: str,  # nosec B107 # a form field's empty default
                       csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            v.require_csrf(csrf_token)
            services.hide_message(db, v.principal, v.subject, message_id)  # hides only (PDL 3 kap. 17 §)
        return RedirectResponse("/inbox?status=removed", status_code=303)

    # --- bookings ----------------------------------------------------------------------------------------------

    @router.get("/bookings")
    def bookings(request: Request, status: str = "") -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            items = services.list_bookings(db, v.principal, v.subject)
            return v.page("bookings.html", nav="bookings", bookings=items, cancelled=status == "cancelled")

    def _booking(db: Session, v: Visit, booking_id: str) -> dict[str, Any]:
        for item in services.list_bookings(db, v.principal, v.subject):
            if item["id"] == booking_id:
                return item
        raise Problem(404, "Bokningen finns inte.")

    @router.get("/bookings/{booking_id}/cancel")
    def cancel_confirm(request: Request, booking_id: str) -> Response:
        """Cancelling asks first: the booking, and a button that really cancels (a POST with the CSRF token)."""
        with ctx.db() as db:
            v = visit(ctx, request, db)
            booking = _booking(db, v, booking_id)
            if booking["status"] != "booked":
                raise Problem(409, "Tiden är redan avbokad.")
            return v.page("booking_cancel.html", nav="bookings", booking=booking)

    @router.post("/bookings/{booking_id}/cancel")
    def cancel(request: Request, booking_id: str, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:  # nosec B107 # a form field's empty default
        with ctx.db() as db:
            v = visit(ctx, request, db)
            v.require_csrf(csrf_token)
            services.cancel_booking(db, v.principal, v.subject, booking_id)
        return RedirectResponse("/bookings?status=cancelled", status_code=303)

    # --- journal (never as ombud) ------------------------------------------------------------------------------

    @router.get("/journal")
    def journal(request: Request) -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            entries = services.journal(db, v.principal, v.subject)  # refuses ombud itself (BR-PROXY-1)
            return v.page("journal.html", nav="journal", entries=entries)

    # --- notification settings, devices, consents (BR-NOTIF-1, BR-GDPR-1) -----------------------------------------

    @router.get("/settings")
    def settings(request: Request, status: str = "") -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            current = services.get_settings(db, v.principal, v.subject)
            return v.page("settings.html", nav="settings", settings=current, saved=status == "saved", error=None)

    @router.post("/settings")
    def settings_save(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "",  # nosec B107 # a form field's empty default
                      push: Annotated[str | None, Form(max_length=10)] = None,
                      sms: Annotated[str | None, Form(max_length=10)] = None,
                      email: Annotated[str | None, Form(max_length=10)] = None) -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            v.require_csrf(csrf_token)
            try:
                services.update_settings(db, v.principal, v.subject, push=_checked(push), sms=_checked(sms),
                                         email=_checked(email))
            except Problem as exc:
                if exc.status != 409:
                    raise
                current = services.get_settings(db, v.principal, v.subject)
                wanted = {**current, "push": _checked(push), "sms": _checked(sms), "email": _checked(email)}
                return v.page("settings.html", status=409, nav="settings", settings=wanted, saved=False,
                              error=exc.detail)
        return RedirectResponse("/settings?status=saved", status_code=303)

    @router.get("/devices")
    def devices(request: Request, status: str = "") -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            return v.page("devices.html", nav="settings", devices=services.list_devices(db, v.principal),
                          removed=status == "removed")

    @router.post("/devices/{installation_id}/delete")
    def device_delete(request: Request, installation_id: str,  # nosec B107 # a form field's empty default
                      csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            v.require_csrf(csrf_token)
            services.delete_device(db, v.principal, installation_id)
        return RedirectResponse("/devices?status=removed", status_code=303)

    @router.get("/consents")
    def consents(request: Request, status: str = "") -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            items = services.list_consents(db, v.principal)
            active = [c for c in items if c["active"] and c["purpose"] == "push"]
            return v.page("consents.html", nav="settings", consents=items, push_active=bool(active),
                          version=PUSH_CONSENT_VERSION, notice=status)

    @router.post("/consents")
    def consent_give(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:  # nosec B107 # a form field's empty default
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            v.require_csrf(csrf_token)
            services.grant_consent(db, v.principal, purpose="push", text_version=PUSH_CONSENT_VERSION)
        return RedirectResponse("/consents?status=given", status_code=303)

    @router.post("/consents/{consent_id}/withdraw")
    def consent_withdraw(request: Request, consent_id: str,  # nosec B107 # a form field's empty default
                         csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            v.require_csrf(csrf_token)
            services.withdraw_consent(db, v.principal, consent_id)
        return RedirectResponse("/consents?status=withdrawn", status_code=303)

    # --- acting for a child (BR-PROXY-1) -------------------------------------------------------------------------

    @router.get("/acting-for")
    def acting_for(request: Request) -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            return v.page("acting_for.html", nav="", children=services.acting_for(db, v.person))

    @router.post("/acting-for")
    def acting_for_switch(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "",  # nosec B107 # a form field's empty default
                          subject: Annotated[str, Form(max_length=64)] = "self",
                          next: Annotated[str, Form(max_length=500)] = "/") -> Response:
        """An explicit switch; the same check as every API request decides whom one may act for. ``next`` takes
        the user back to the page that asked them to switch."""
        with ctx.db() as db:
            v = visit(ctx, request, db)
            v.require_csrf(csrf_token)
            chosen = resolve_subject(db, v.person, None if subject == "self" else subject)  # 403 if not allowed
            v.session.acting_for_id = chosen.person.id if chosen.role == "ombud" else None
        return RedirectResponse(safe_next(next), status_code=303)

    # --- log extract, my data (BR-AUDIT-1, BR-GDPR-1) --------------------------------------------------------------

    @router.get("/audit-extract")
    def audit_extract(request: Request, page: str = "", from_: Annotated[str, Query(alias="from")] = "",
                      to: str = "", role: str = "", unit: str = "", upto: str = "") -> Response:
        """The log extract a page at a time, filtered by period, role and care unit: plain GET links and a GET
        form, so it works without JavaScript (BR-AUDIT-1, PDL 8 kap. 1 §)."""
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            wanted = _extract_filter(page=page, from_=from_, to=to, role=role, unit=unit, upto=upto)
            result = services.audit_extract_page(db, v.principal, wanted.only)
            return v.page("audit_extract.html", nav="my-data", extract=_extract_view(wanted, result),
                          actions=ACTION_TEXTS, roles=ROLE_TEXTS)

    @router.get("/my-data")
    def my_data(request: Request) -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            return v.page("my_data.html", nav="my-data", kept=services.KEPT_REASONS, labels=DATA_TEXTS)

    @router.get("/my-data/export.json")
    def my_data_export(request: Request) -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            data = services.export(db, v.principal)  # GDPR art. 15 and 20; audited
        return Response(json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="mina-uppgifter-1177.json"'})

    @router.post("/my-data/erase")
    def my_data_erase(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "",  # nosec B107 # a form field's empty default
                      confirm: Annotated[str | None, Form(max_length=10)] = None) -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            v.require_csrf(csrf_token)
            if not _checked(confirm):
                return v.page("my_data.html", status=422, nav="my-data", kept=services.KEPT_REASONS,
                              labels=DATA_TEXTS, error="Kryssa i att du vill radera uppgifterna.")
            result = services.erase(db, v.principal)
            return v.page("erasure_done.html", nav="my-data", result=result, labels=DATA_TEXTS)

    # --- video meetings and the region's services (BR-REG-2) ------------------------------------------------------

    @router.get("/video")
    def video(request: Request) -> Response:
        """How to join depends on the region: Inera's embedded service, a regional WebView with SSO, or the
        external browser without SSO (BR-REG-2)."""
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            info = services.video_meetings(ctx, db, v.principal)
            meetings = []
            for meeting in info["meetings"]:
                if info["mode"] == "inera":
                    href = f"/video/{meeting['id']}"
                elif info["sso"] and v.in_app:
                    href = _app_sso_link(info["audience"], meeting["join_url"])
                else:
                    href = meeting["join_url"]
                meetings.append({**meeting, "href": href})
            return v.page("video.html", nav="video", info=info, meetings=meetings)

    @router.get("/video/{booking_id}")
    def video_room(request: Request, booking_id: str) -> Response:
        """Inera's video service, embedded: the waiting room of one booked meeting (mode "inera" only)."""
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            info = services.video_meetings(ctx, db, v.principal)
            meeting = next((m for m in info["meetings"] if m["id"] == booking_id), None)
            if info["mode"] != "inera" or meeting is None:
                raise Problem(404, "No such video meeting here.")
            return v.page("video_room.html", nav="video", meeting=meeting)

    @router.get("/services")
    def service_catalogue(request: Request) -> Response:
        with ctx.db() as db:
            v = visit(ctx, request, db)
            _self_only(v)
            catalogue = services.catalogue(ctx, db, v.person)
            items = []
            for item in catalogue["services"]:
                entry = dict(item)
                if item["kind"] == "native":
                    entry["href"] = NATIVE_PATHS.get(item["component"], "/")
                elif item["kind"] == "webview" and item.get("audience") not in (None, services.WEB_AUDIENCE) \
                        and v.in_app:
                    entry["href"] = _app_sso_link(item["audience"], item["url"])
                elif item["kind"] == "video":
                    entry["href"] = "/video"
                else:
                    entry["href"] = item.get("url")
                items.append(entry)
            return v.page("services.html", nav="services", region=catalogue["region"], items=items)

    return router
